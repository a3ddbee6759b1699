package gst

// glibc's malloc arenas, capped before any thread starts.
//
// GStreamer starts streaming threads for every branch it builds (a point
// joining, a camera coming back), and glibc gives threads arenas of their
// own, up to eight per core, each keeping the memory freed into it. A
// session whose points come and go then grows its RSS by megabytes per
// change while the Go heap stays flat: measured by `diemcau bench soak`,
// +21 % in 11 minutes, and +75 MB over 30 leave/join cycles of one point,
// against +21 MB, flat after 18 cycles, with two arenas; the composite's
// CPU is the same either way (4 points, 640x360@15: 0.35–0.39 cores with
// two arenas, 0.35–0.37 with sixteen, bench composite). glibc fixes its
// arena limit when the first thread needs an arena, so the cap is set in
// a constructor, as the program loads, not when GStreamer is initialised.
// MALLOC_ARENA_MAX in the environment, when set, is the operator's choice
// and stands. Elsewhere than glibc nothing is done.

/*
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
__attribute__((constructor)) static void diemcau_limit_malloc_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
}
#endif
*/
import "C"
