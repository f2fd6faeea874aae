/* replay_main.c — runs a libFuzzer target over saved inputs without libFuzzer.
 *
 * Usage: fuzz_x DIR|FILE...   Each file is fed once to LLVMFuzzerTestOneInput; the
 * sanitizers of the test build catch what goes wrong.  Also feeds a fixed set of
 * generated inputs (empty, every length up to 64 of 0x00/0xff bytes, and pseudo-random
 * buffers from a fixed seed), so a target with an empty corpus still runs.
 * Prints TAP: one check per directory/file group.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[4096] = { 0 };
	int files = 0, bad = 0;

	LLVMFuzzerTestOneInput(buf, 0);
	for (size_t len = 1; len <= 64; len++) {
		memset(buf, 0, len);
		LLVMFuzzerTestOneInput(buf, len);
		memset(buf, 0xff, len);
		LLVMFuzzerTestOneInput(buf, len);
	}
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(i % 600) + 1;

		for (size_t j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (uint8_t)x;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	ok(1, "generated inputs");
	for (int a = 1; a < argc; a++) {
		struct stat st;

		if (stat(argv[a], &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[a]);
			struct dirent *e;
			char path[4096];

			while (d && (e = readdir(d))) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
				if (replay_file(path) != 0)
					bad++;
				files++;
			}
			if (d)
				closedir(d);
		} else {
			if (replay_file(argv[a]) != 0)
				bad++;
			files++;
		}
	}
	diag("replayed %d corpus files", files);
	ok(bad == 0, "corpus files readable and replayed");
	return tap_done();
}
