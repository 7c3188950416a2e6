#ifndef TOKENREEL_CFFMPEG_SHIMS_H
#define TOKENREEL_CFFMPEG_SHIMS_H
// Shims for what Swift cannot import from FFmpeg. Each function says why it exists.
// Owned by the media module; filled in by its implementation.
#include <libavutil/avutil.h>

/// AVERROR(e) is a function-like macro; Swift cannot call it.
static inline int tr_averror(int e) { return AVERROR(e); }
/// AV_NOPTS_VALUE is a cast macro Swift does not import.
static inline int64_t tr_nopts_value(void) { return AV_NOPTS_VALUE; }

#endif
