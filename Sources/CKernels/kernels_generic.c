// The baseline build of the kernels (whatever the target's default instruction set is).
#define KERNEL(name) trk_generic_##name
#include "kernels_impl.h"
