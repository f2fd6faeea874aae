/* clock.h — monotonic and wall clocks in integer units. */
#ifndef C3_CLOCK_H
#define C3_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an arbitrary origin; never goes back. */
static inline uint64_t c3_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t c3_now_ms(void)
{
	return c3_now_ns() / 1000000ull;
}

/* Wall-clock nanoseconds since the epoch (for file times, leases shown to people). */
static inline uint64_t c3_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep for ms milliseconds (restarts after signals). */
void c3_sleep_ms(uint64_t ms);

#endif
