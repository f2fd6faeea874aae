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

/* The wall-clock time ms milliseconds from now, as pthread_cond_timedwait and
 * sem_timedwait take their deadlines. */
static inline struct timespec c3_deadline_after_ms(uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Sleep for ms milliseconds (restarts after signals). */
void c3_sleep_ms(uint64_t ms);

#endif
