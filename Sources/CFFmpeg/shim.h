// Umbrella header for the FFmpeg libraries TokenReel uses (FFmpeg 5.1 is the floor).
// No audio API is used anywhere.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/opt.h>
