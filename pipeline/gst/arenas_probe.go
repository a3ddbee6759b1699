package gst

/*
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_barrier_t probe_barrier;

static void *probe_thread(void *arg) {
	(void)arg;
	void *p = malloc(4096);
	pthread_barrier_wait(&probe_barrier); // all alive at once: each wants an arena
	free(p);
	return NULL;
}

// probe_arenas runs n threads that malloc at the same time, then counts
// the arenas malloc_info reports; -1 when it cannot.
static int probe_arenas(int n) {
	pthread_t t[32];
	if (n > 32) n = 32;
	if (pthread_barrier_init(&probe_barrier, NULL, n) != 0) return -1;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&t[i], NULL, probe_thread, NULL) != 0) return -1;
	}
	for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
	pthread_barrier_destroy(&probe_barrier);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) return -1;
	malloc_info(0, f);
	fclose(f);
	int heaps = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) heaps++;
	free(buf);
	return heaps;
}
#else
static int probe_arenas(int n) { (void)n; return -1; }
#endif
*/
import "C"

// probeMallocArenas starts threads that allocate at the same time and
// returns how many malloc arenas the process then has (glibc's
// malloc_info), or -1 where that cannot be told. It shows the cap of
// arenas.go at work; see its test.
func probeMallocArenas(threads int) int { return int(C.probe_arenas(C.int(threads))) }
