/* test_punch.c — what c3fs_punch_hole does to a range (client__punch_plan): whole chunks
 * removed, partly covered chunks zeroed, never beyond the end of the file; and, over many
 * random ranges, that removed chunks plus zeroed bytes are exactly the range below the
 * size (checked against a byte model). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/tap.h"
#include "client/client_int.h"

#define CS 1000u /* a chunk size the arithmetic is easy to read with */

static void test_cases(void)
{
	struct client_punch_plan p;

	client__punch_plan(CS, 10 * CS, 0, 10 * CS, &p);
	is_int(p.rm_begin, 0, "whole file: chunks from 0");
	is_int(p.rm_end, 10, "whole file: to 10");
	is_int(p.nzero, 0, "whole file: nothing zeroed");

	client__punch_plan(CS, 10 * CS, 1500, 4200, &p);
	is_int(p.rm_begin, 2, "[1500, 4200): chunks 2..3 removed");
	is_int(p.rm_end, 4, "[1500, 4200): up to 4");
	is_int(p.nzero, 2, "[1500, 4200): two partial pieces");
	is_int(p.zero_off[0], 1500, "head piece starts at 1500");
	is_int(p.zero_len[0], 500, "head piece up to the chunk boundary");
	is_int(p.zero_off[1], 4000, "tail piece starts at the last boundary");
	is_int(p.zero_len[1], 200, "tail piece up to 4200");

	client__punch_plan(CS, 10 * CS, 1200, 1300, &p);
	is_int(p.rm_end - p.rm_begin, 0, "inside one chunk: nothing removed");
	is_int(p.nzero, 1, "inside one chunk: one piece");
	is_int(p.zero_off[0], 1200, "the piece is the range");
	is_int(p.zero_len[0], 100, "100 bytes");

	client__punch_plan(CS, 10 * CS, 1500, 2500, &p);
	is_int(p.rm_end - p.rm_begin, 0, "across one boundary, no whole chunk: nothing removed");
	is_int(p.nzero, 1, "one piece over two chunks");
	is_int(p.zero_len[0], 1000, "of 1000 bytes");

	client__punch_plan(CS, 2500, 1500, 9000, &p);
	is_int(p.rm_begin, 2, "past EOF: whole chunks removed from 2");
	is_int(p.rm_end, 9, "to 9 (they hold nothing the size shows)");
	is_int(p.nzero, 1, "past EOF: only the head piece is zeroed");
	is_int(p.zero_len[0], 500, "head piece");

	client__punch_plan(CS, 1200, 1500, 1700, &p);
	is_int(p.nzero, 0, "a piece wholly past EOF is left alone (zeros would extend the file)");

	client__punch_plan(CS, 1600, 1500, 1700, &p);
	is_int(p.nzero, 1, "a piece crossing EOF is zeroed");
	is_int(p.zero_len[0], 100, "up to EOF only");

	client__punch_plan(CS, 0, 0, 5 * CS, &p);
	is_int(p.rm_end - p.rm_begin, 5, "empty file: chunks removed anyway (unreported data)");
	is_int(p.nzero, 0, "empty file: nothing zeroed");

	client__punch_plan(CS, 10 * CS, 700, 700, &p);
	is_int(p.rm_end - p.rm_begin + (uint64_t)p.nzero, 0, "empty range: nothing");
	client__punch_plan(CS, 10 * CS, 900, 100, &p);
	is_int(p.rm_end - p.rm_begin + (uint64_t)p.nzero, 0, "end before start: nothing");

	client__punch_plan(1u << 20, UINT64_MAX, (uint64_t)UINT32_MAX << 20,
			   ((uint64_t)UINT32_MAX + 1) << 20, &p);
	is_int(p.rm_begin, UINT32_MAX, "the last addressable chunk");
	is_int(p.rm_end, (uint64_t)UINT32_MAX + 1, "ends past it");
}

/* Random ranges against a byte model: every byte of [off, end) below size is removed or
 * zeroed exactly once, nothing else is touched. */
static void test_model(void)
{
	enum { SIZE_MAX_B = 12 * CS };
	static unsigned char hit[16 * CS];
	struct client_punch_plan p;
	int bad = 0;

	srand(7);
	for (int t = 0; t < 5000 && !bad; t++) {
		uint64_t size = (uint64_t)(rand() % SIZE_MAX_B);
		uint64_t off = (uint64_t)(rand() % (14 * CS));
		uint64_t end = off + (uint64_t)(rand() % (2 * CS + 5)) * (rand() % 3 ? 1 : 3);

		if (end > 16 * CS)
			end = 16 * CS;
		memset(hit, 0, sizeof(hit));
		client__punch_plan(CS, size, off, end, &p);
		for (uint64_t c = p.rm_begin; c < p.rm_end; c++)
			for (uint64_t b = c * CS; b < (c + 1) * CS && b < sizeof(hit); b++)
				hit[b]++;
		for (int i = 0; i < p.nzero; i++)
			for (uint64_t b = p.zero_off[i]; b < p.zero_off[i] + p.zero_len[i]; b++)
				hit[b]++;
		for (uint64_t b = 0; b < sizeof(hit) && !bad; b++) {
			int want_min = b >= off && b < end && b < size;
			int allowed = b >= off && b < end; /* removed chunks past EOF are fine */

			if (hit[b] > 1 || (want_min && !hit[b]) || (!allowed && hit[b])) {
				diag("size %llu [%llu, %llu): byte %llu hit %d", (unsigned long long)size,
				     (unsigned long long)off, (unsigned long long)end,
				     (unsigned long long)b, hit[b]);
				bad = 1;
			}
		}
		for (int i = 0; i < p.nzero && !bad; i++)
			if (p.zero_off[i] + p.zero_len[i] > size)
				bad = 2;
	}
	ok(!bad, "5000 random ranges: the range below the size covered once, nothing outside, no zeros past EOF");
}

int main(void)
{
	test_cases();
	test_model();
	return tap_done();
}
