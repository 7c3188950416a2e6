#ifndef TOKENREEL_CFFMPEG_SHIMS_H
#define TOKENREEL_CFFMPEG_SHIMS_H
// Shims for what Swift cannot import from FFmpeg. Each function says why it exists.
// Owned by the media module.
#include <stdint.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>

struct AVFormatContext;
struct AVCodecContext;
struct AVStream;

/// AVERROR(e) is a function-like macro; Swift cannot call it.
static inline int tr_averror(int e) { return AVERROR(e); }
/// AV_NOPTS_VALUE is a cast macro Swift does not import.
static inline int64_t tr_nopts_value(void) { return AV_NOPTS_VALUE; }
/// The AVERROR_* tags are built with the function-like macro FFERRTAG; Swift imports none of them.
static inline int tr_averror_eof(void) { return AVERROR_EOF; }
static inline int tr_averror_exit(void) { return AVERROR_EXIT; }
static inline int tr_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int tr_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int tr_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int tr_averror_demuxer_not_found(void) { return AVERROR_DEMUXER_NOT_FOUND; }
static inline int tr_averror_patchwelcome(void) { return AVERROR_PATCHWELCOME; }

/// Per-file state shared with FFmpeg's C callbacks: the captured log lines and the decode
/// deadline. One Swift owner (`FileLog`) creates and frees it. Thread-safe: FFmpeg may log
/// from its frame threads while the owner reads.
typedef struct tr_file_context tr_file_context;

tr_file_context *tr_file_context_create(int max_lines);
void tr_file_context_free(tr_file_context *ctx);
/// Sets the deadline `seconds` from now on the monotonic clock (av_gettime_relative, from
/// libavutil/time.h, which the CFFmpeg umbrella does not include); <= 0 clears it.
void tr_file_context_start_deadline(tr_file_context *ctx, double seconds);
/// 1 when a deadline is set and has passed.
int tr_file_context_expired(tr_file_context *ctx);
/// Copies the captured lines (oldest first) into a newly allocated '\n'-joined string the
/// caller frees with av_free. Lines dropped because the buffer was full are counted in *dropped.
char *tr_file_context_copy_lines(tr_file_context *ctx, int *dropped);
void tr_file_context_clear(tr_file_context *ctx);

/// av_log_set_callback takes a variadic C function (va_list), which Swift cannot write.
/// Installs, once per process, a callback that never prints: it formats each line and appends
/// it to the tr_file_context of the format/codec context that logged (through their `opaque`),
/// or of the calling thread (tr_set_thread_file_context), and drops it otherwise.
/// Only lines at `max_level` or more severe are kept (e.g. AV_LOG_WARNING).
void tr_install_log_capture(int max_level);
/// Lines logged by objects without a file (swscale, parsers) on this thread go to `ctx`; NULL detaches.
void tr_set_thread_file_context(tr_file_context *ctx);
/// Points the format context's opaque and interrupt callback at `ctx` (deadline checks in I/O).
/// Must be called before avformat_open_input.
void tr_attach_format_context(struct AVFormatContext *fmt, tr_file_context *ctx);
/// Points the codec context's opaque at `ctx` (frame threads copy it, so their lines are kept too).
void tr_attach_codec_context(struct AVCodecContext *codec, tr_file_context *ctx);

/// The stream's display matrix (9 int32, 16.16 fixed point) or NULL. The API moved between
/// FFmpeg 5.1 (av_stream_get_side_data) and 6.1+ (codecpar coded_side_data).
const int32_t *tr_stream_display_matrix(const struct AVStream *st);

/// x264's `asm` parameter for this CPU without AVX-512 ("AVX2", "AVX", ..., "SSE2"), or NULL
/// off x86-64. x264 r3095's AVX-512 kernels read memory they never wrote: on a CPU that has
/// AVX-512 the same frames encode to different bytes once the heap holds another encoder's
/// leftovers (seen after libx265 in the same process). x264's other kernels are bit-exact, so
/// the files are the ones an AVX2 machine writes.
const char *tr_x264_asm_without_avx512(void);

#endif
