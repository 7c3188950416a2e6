// C side of the media module: the variadic log callback and the interrupt callback, which
// Swift cannot express, plus version-dependent FFmpeg API. See CFFmpegShims.h.
#include "CFFmpegShims.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/time.h>
#include <libavutil/display.h>

#define TR_LINE_BYTES 512

struct tr_file_context {
    pthread_mutex_t lock;
    int64_t deadline_us;      // 0: none
    int max_lines;
    int first;                // ring start
    int count;                // lines held
    int dropped;              // lines lost because the ring was full
    char (*lines)[TR_LINE_BYTES];
};

tr_file_context *tr_file_context_create(int max_lines) {
    if (max_lines < 1) max_lines = 1;
    tr_file_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->lines = calloc((size_t)max_lines, TR_LINE_BYTES);
    if (!ctx->lines) { free(ctx); return NULL; }
    ctx->max_lines = max_lines;
    pthread_mutex_init(&ctx->lock, NULL);
    return ctx;
}

void tr_file_context_free(tr_file_context *ctx) {
    if (!ctx) return;
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->lines);
    free(ctx);
}

void tr_file_context_start_deadline(tr_file_context *ctx, double seconds) {
    int64_t deadline = seconds > 0 ? av_gettime_relative() + (int64_t)(seconds * 1e6) : 0;
    __atomic_store_n(&ctx->deadline_us, deadline, __ATOMIC_RELAXED);
}

int tr_file_context_expired(tr_file_context *ctx) {
    int64_t d = __atomic_load_n(&ctx->deadline_us, __ATOMIC_RELAXED);
    return d > 0 && av_gettime_relative() > d;
}

static void tr_append_line(tr_file_context *ctx, const char *line) {
    pthread_mutex_lock(&ctx->lock);
    int slot;
    if (ctx->count < ctx->max_lines) {
        slot = (ctx->first + ctx->count) % ctx->max_lines;
        ctx->count++;
    } else {                  // keep the newest lines: the failure is usually logged last
        slot = ctx->first;
        ctx->first = (ctx->first + 1) % ctx->max_lines;
        ctx->dropped++;
    }
    strncpy(ctx->lines[slot], line, TR_LINE_BYTES - 1);
    ctx->lines[slot][TR_LINE_BYTES - 1] = '\0';
    pthread_mutex_unlock(&ctx->lock);
}

char *tr_file_context_copy_lines(tr_file_context *ctx, int *dropped) {
    pthread_mutex_lock(&ctx->lock);
    size_t total = 1;
    for (int i = 0; i < ctx->count; i++)
        total += strlen(ctx->lines[(ctx->first + i) % ctx->max_lines]) + 1;
    char *out = av_malloc(total);
    if (out) {
        char *p = out;
        for (int i = 0; i < ctx->count; i++) {
            const char *line = ctx->lines[(ctx->first + i) % ctx->max_lines];
            size_t n = strlen(line);
            memcpy(p, line, n);
            p += n;
            if (i + 1 < ctx->count) *p++ = '\n';
        }
        *p = '\0';
    }
    if (dropped) *dropped = ctx->dropped;
    pthread_mutex_unlock(&ctx->lock);
    return out;
}

void tr_file_context_clear(tr_file_context *ctx) {
    pthread_mutex_lock(&ctx->lock);
    ctx->first = ctx->count = ctx->dropped = 0;
    pthread_mutex_unlock(&ctx->lock);
}

static _Thread_local tr_file_context *tr_thread_ctx;
static int tr_max_level = AV_LOG_WARNING;

void tr_set_thread_file_context(tr_file_context *ctx) { tr_thread_ctx = ctx; }

/// The file a logging object belongs to: format and codec contexts carry it in `opaque`.
static tr_file_context *tr_owner_of(void *avcl) {
    if (!avcl) return NULL;
    const AVClass *cls = *(const AVClass **)avcl;
    if (cls == avformat_get_class()) return ((AVFormatContext *)avcl)->opaque;
    if (cls == avcodec_get_class()) return ((AVCodecContext *)avcl)->opaque;
    return NULL;
}

static void tr_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > tr_max_level) return;
    tr_file_context *ctx = tr_owner_of(avcl);
    if (!ctx) ctx = tr_thread_ctx;
    if (!ctx) return;         // never print: a library must not write to the terminal
    char line[TR_LINE_BYTES];
    int print_prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) return;
    tr_append_line(ctx, line);
}

static pthread_once_t tr_log_once = PTHREAD_ONCE_INIT;
static void tr_install_once(void) { av_log_set_callback(tr_log_callback); }

void tr_install_log_capture(int max_level) {
    tr_max_level = max_level;
    pthread_once(&tr_log_once, tr_install_once);
}

static int tr_interrupt_callback(void *opaque) {
    return tr_file_context_expired((tr_file_context *)opaque);
}

void tr_attach_format_context(AVFormatContext *fmt, tr_file_context *ctx) {
    fmt->opaque = ctx;
    fmt->interrupt_callback.callback = tr_interrupt_callback;
    fmt->interrupt_callback.opaque = ctx;
}

void tr_attach_codec_context(AVCodecContext *codec, tr_file_context *ctx) {
    codec->opaque = ctx;
}

const int32_t *tr_stream_display_matrix(const AVStream *st) {
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data,
                                                         AV_PKT_DATA_DISPLAYMATRIX);
    return (sd && sd->size >= 9 * sizeof(int32_t)) ? (const int32_t *)sd->data : NULL;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return (data && size >= 9 * sizeof(int32_t)) ? (const int32_t *)data : NULL;
#endif
}

const char *tr_x264_asm_without_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // x264's names are cumulative: "AVX2" also turns on AVX, FMA3, BMI1/2, LZCNT and every SSE level.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
        && __builtin_cpu_supports("bmi2")) return "AVX2";
    if (__builtin_cpu_supports("avx")) return "AVX";
    if (__builtin_cpu_supports("sse4.2")) return "SSE4.2";
    if (__builtin_cpu_supports("sse4.1")) return "SSE4.1";
    if (__builtin_cpu_supports("ssse3")) return "SSSE3";
    return "SSE2";
#else
    return NULL;
#endif
}
