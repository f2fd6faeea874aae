/* fuzz_ffrecord.c — libFuzzer target for the FFRecord header/index validation and the
 * packed-folder pickle decoder (src/ffrecord/format.c, folder.c).
 *
 * Input: first byte selects the mode.
 *   even: the rest is a whole FFRecord file image.  Header + index are validated as the
 *         reader does (against the image's length, CRC checked); when they pass, every
 *         sample must lie inside the image and the last one is offered to the
 *         packed-folder decoder.
 *   odd:  the rest is a pickle for the decoder; a tree that decodes is re-encoded, and
 *         the encoding must decode to the same tree.
 * Beyond "no crash, no read past the input" (ASan): a successful parse keeps the stated
 * invariants (offsets inside the file, children ranges inside the node array).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ffrecord/ffr_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_folder(const struct c3fs_ffr_folder *f)
{
	uint32_t n = c3fs_ffr_folder_count(f);

	for (uint32_t i = 0; i < n; i++) {
		const struct c3fs_ffr_node *d = c3fs_ffr_folder_node(f, i);

		if (d->index < 0 && d->n_children &&
		    (d->first_child == 0 || d->first_child > n || d->n_children > n - d->first_child))
			abort();
		if (i > 0 && (d->name[0] == '\0' || strchr(d->name, '/')))
			abort();
	}
}

static void fuzz_pickle(const uint8_t *p, size_t n)
{
	struct c3fs_ffr_folder *f, *g;
	uint8_t *copy = malloc(n ? n : 1);
	void *enc;
	size_t enc_len;

	if (!copy)
		return;
	memcpy(copy, p, n);
	if (ffr__pickle_decode(copy, n, &f) == 0) {
		uint32_t cnt = c3fs_ffr_folder_count(f);
		struct c3fs_ffr_node *nodes = malloc(cnt * sizeof(*nodes));

		check_folder(f);
		for (uint32_t i = 0; i < cnt; i++)
			nodes[i] = *c3fs_ffr_folder_node(f, i);
		if (c3fs_ffr_folder_encode(nodes, cnt, &enc, &enc_len) != 0)
			abort();
		if (c3fs_ffr_folder_parse(enc, enc_len, &g) != 0 || c3fs_ffr_folder_count(g) != cnt)
			abort();
		for (uint32_t i = 0; i < cnt; i++) {
			const struct c3fs_ffr_node *a = c3fs_ffr_folder_node(f, i),
						   *b = c3fs_ffr_folder_node(g, i);

			if (strcmp(a->name, b->name) != 0 || a->index != b->index ||
			    a->n_children != b->n_children)
				abort();
		}
		c3fs_ffr_folder_free(g);
		free(enc);
		free(nodes);
		c3fs_ffr_folder_free(f);
	}
	free(copy);
}

static void fuzz_file(const uint8_t *img, size_t n)
{
	uint8_t hdr[C3FS_FFR_HEADER_BYTES] = { 0 };
	int64_t cnt;
	uint32_t meta;
	uint8_t *idx;

	if (n >= sizeof(hdr))
		memcpy(hdr, img, sizeof(hdr));
	if (ffr__header_parse("fuzz", hdr, n, &cnt, &meta) != 0)
		return;
	if (cnt < 0 || 12 + 12 * (uint64_t)cnt > n)
		abort();
	/* exact-size copy of the index, as the reader reads it */
	idx = malloc(cnt ? 12 * (size_t)cnt : 1);
	if (!idx)
		return;
	memcpy(idx, img + 12, 12 * (size_t)cnt);
	if (ffr__index_check("fuzz", cnt, meta, idx, n, true) == 0 && cnt > 0) {
		int64_t prev = 12 + 12 * cnt, last;

		for (int64_t i = 0; i < cnt; i++) {
			int64_t o;

			memcpy(&o, idx + 4 * (size_t)cnt + 8 * (size_t)i, 8);
			if (o < prev || (uint64_t)o > n)
				abort();
			prev = o;
		}
		last = prev;
		{
			struct c3fs_ffr_folder *f;
			size_t len = n - (size_t)last;
			uint8_t *s = malloc(len ? len : 1);

			if (s) {
				memcpy(s, img + last, len);
				if (c3fs_ffr_folder_parse(s, len, &f) == 0) {
					check_folder(f);
					c3fs_ffr_folder_free(f);
				}
				free(s);
			}
		}
	}
	free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_pickle(data + 1, size - 1);
	else
		fuzz_file(data + 1, size - 1);
	return 0;
}
