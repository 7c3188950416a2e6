// zlib (Debian: zlib1g-dev; pkg-config `zlib`): deflate and CRC-32 for the PNG writer.
#include <zlib.h>
