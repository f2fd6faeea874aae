/* folder.c — packed folders: the index sample (magic + pickle of nested dicts) read with a
 * bounded decoder of a pickle subset, and written by an encoder of the same subset.
 *
 * Decoder: a stack machine over the opcodes Python emits for a (nested) dict or
 * collections.OrderedDict of str -> int | dict, protocols 2..5:
 *   PROTO FRAME  GLOBAL/STACK_GLOBAL (collections.OrderedDict only)  EMPTY_TUPLE TUPLE
 *   (empty only) REDUCE (OrderedDict() only)  EMPTY_DICT MARK SETITEM SETITEMS
 *   SHORT_BINUNICODE BINUNICODE BINUNICODE8  BININT BININT1 BININT2 LONG1 (<= 8 bytes)
 *   MEMOIZE BINPUT LONG_BINPUT BINGET LONG_BINGET  STOP
 * Anything else is -EBADMSG naming the opcode and its byte offset.  Nothing is executed:
 * the only class that can be named is OrderedDict, and "calling" it makes an empty dict.
 * Bounds: every opcode consumes >= 1 byte and makes <= 1 object, so objects, stack,
 * dict entries and memo slots are all <= input length; memo indices above that are
 * rejected; a dict used twice (shared or recursive, through the memo) is rejected;
 * nesting deeper than FOLDER_MAX_DEPTH is rejected.
 *
 * Tree: nodes in breadth-first order, so each directory's children are contiguous, in
 * the dict's insertion order (a key given twice is rejected: names are unique per dir).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "ffrecord/ffr_int.h"

#define FOLDER_MAX_DEPTH 256

struct c3fs_ffr_folder {
	struct c3fs_ffr_node *nodes;
	uint32_t n;
	char *names;
};

enum { P_STR, P_INT, P_DICT, P_CLASS, P_TUPLE, P_MARK };

struct pobj {
	uint8_t type;
	uint8_t used;        /* dict: already placed in the tree */
	uint64_t len;        /* str: bytes */
	int64_t v;           /* str: offset in input; int: value; dict: first entry or -1 */
	int64_t tail;        /* dict: last entry or -1 */
};

struct pentry {
	uint32_t key, val;   /* object numbers */
	int64_t next;
};

struct pstate {
	const uint8_t *d;
	size_t len, pos;
	struct pobj *obj;
	size_t n_obj;
	uint32_t *stack;
	size_t sp;
	struct pentry *ent;
	size_t n_ent;
	uint32_t *memo;      /* UINT32_MAX = unset; len + 1 slots */
	size_t memo_len;     /* MEMOIZE's next slot */
};

static int bad(const struct pstate *s, const char *what)
{
	return ffr__err(-EBADMSG, "packed-folder index: %s at byte %zu", what, s->pos);
}

static int need(struct pstate *s, size_t n)
{
	return s->len - s->pos >= n ? 0 : bad(s, "truncated pickle");
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int push_new(struct pstate *s, uint8_t type, int64_t v, uint64_t len)
{
	struct pobj *o = &s->obj[s->n_obj];

	/* both bounded by the input length (see the file comment) */
	if (s->n_obj >= s->len || s->sp >= s->len)
		return bad(s, "too many objects");
	*o = (struct pobj){ .type = type, .v = v, .len = len, .tail = -1 };
	s->stack[s->sp++] = (uint32_t)s->n_obj++;
	return 0;
}

static int pop(struct pstate *s, uint32_t *o)
{
	if (s->sp == 0 || s->obj[s->stack[s->sp - 1]].type == P_MARK)
		return bad(s, "stack underflow");
	*o = s->stack[--s->sp];
	return 0;
}

static int set_item(struct pstate *s, uint32_t dict, uint32_t key, uint32_t val)
{
	struct pobj *d = &s->obj[dict];
	struct pentry *e;

	if (d->type != P_DICT)
		return bad(s, "SETITEM on something not a dict");
	if (s->obj[key].type != P_STR)
		return bad(s, "a key that is not a str");
	if (s->obj[val].type != P_INT && s->obj[val].type != P_DICT)
		return bad(s, "a value that is neither an int nor a dict");
	if (s->n_ent >= s->len)
		return bad(s, "too many entries");
	e = &s->ent[s->n_ent];
	*e = (struct pentry){ .key = key, .val = val, .next = -1 };
	if (d->tail >= 0)
		s->ent[d->tail].next = (int64_t)s->n_ent;
	else
		d->v = (int64_t)s->n_ent;
	d->tail = (int64_t)s->n_ent++;
	return 0;
}

static int memo_put(struct pstate *s, uint64_t i)
{
	if (s->sp == 0 || s->obj[s->stack[s->sp - 1]].type == P_MARK)
		return bad(s, "memoizing an empty stack");
	if (i > s->len)
		return bad(s, "memo index too large");
	s->memo[i] = s->stack[s->sp - 1];
	return 0;
}

static int memo_get(struct pstate *s, uint64_t i)
{
	if (i > s->len || s->memo[i] == UINT32_MAX)
		return bad(s, "memo index not set");
	if (s->sp >= s->len)
		return bad(s, "stack too deep");
	s->stack[s->sp++] = s->memo[i];
	return 0;
}

static int do_class(struct pstate *s, const uint8_t *mod, size_t mod_len, const uint8_t *name,
		    size_t name_len)
{
	if (mod_len != 11 || memcmp(mod, "collections", 11) != 0 || name_len != 11 ||
	    memcmp(name, "OrderedDict", 11) != 0)
		return bad(s, "a class other than collections.OrderedDict");
	return push_new(s, P_CLASS, 0, 0);
}

/* Run the machine to STOP; *root = the dict left on top.  Long (about 175 lines) because
 * it is the interpreter's one switch over the pickle opcodes it accepts, a few lines each,
 * kept in one place so that what is accepted and refused reads as one table. */
static int run(struct pstate *s, uint32_t *root)
{
	uint32_t a, b;
	int rc = 0;

	while (rc == 0) {
		uint8_t op;
		uint64_t n;

		if (need(s, 1) < 0)
			return -EBADMSG;
		op = s->d[s->pos++];
		switch (op) {
		case 0x80: /* PROTO */
			if ((rc = need(s, 1)) == 0 && s->d[s->pos] > 5)
				rc = bad(s, "pickle protocol above 5");
			s->pos++;
			break;
		case 0x95: /* FRAME: a length hint */
			if ((rc = need(s, 8)) == 0) {
				n = le(s->d + s->pos, 8);
				s->pos += 8;
				if (n > s->len - s->pos)
					rc = bad(s, "frame past the end");
			}
			break;
		case 'c': { /* GLOBAL "module\nname\n" */
			const uint8_t *m = s->d + s->pos, *e1, *e2;

			e1 = memchr(m, '\n', s->len - s->pos);
			e2 = e1 ? memchr(e1 + 1, '\n', (size_t)(s->d + s->len - e1 - 1)) : NULL;
			if (!e2)
				return bad(s, "truncated GLOBAL");
			rc = do_class(s, m, (size_t)(e1 - m), e1 + 1, (size_t)(e2 - e1 - 1));
			s->pos = (size_t)(e2 + 1 - s->d);
			break;
		}
		case 0x93: /* STACK_GLOBAL */
			if ((rc = pop(s, &b)) < 0 || (rc = pop(s, &a)) < 0)
				break;
			if (s->obj[a].type != P_STR || s->obj[b].type != P_STR)
				return bad(s, "STACK_GLOBAL of non-strings");
			rc = do_class(s, s->d + s->obj[a].v, s->obj[a].len, s->d + s->obj[b].v,
				      s->obj[b].len);
			break;
		case ')': /* EMPTY_TUPLE */
			rc = push_new(s, P_TUPLE, 0, 0);
			break;
		case 't': /* TUPLE: only the empty one */
			if (s->sp == 0 || s->obj[s->stack[s->sp - 1]].type != P_MARK)
				return bad(s, "a non-empty tuple");
			s->sp--;
			rc = push_new(s, P_TUPLE, 0, 0);
			break;
		case 'R': /* REDUCE: OrderedDict() only */
			if ((rc = pop(s, &b)) < 0 || (rc = pop(s, &a)) < 0)
				break;
			if (s->obj[a].type != P_CLASS || s->obj[b].type != P_TUPLE)
				return bad(s, "REDUCE other than OrderedDict()");
			rc = push_new(s, P_DICT, -1, 0);
			break;
		case '}': /* EMPTY_DICT */
			rc = push_new(s, P_DICT, -1, 0);
			break;
		case '(': /* MARK */
			rc = push_new(s, P_MARK, 0, 0);
			break;
		case 0x8c: /* SHORT_BINUNICODE */
		case 'X':  /* BINUNICODE */
		case 0x8d: /* BINUNICODE8 */ {
			int w = op == 0x8c ? 1 : op == 'X' ? 4 : 8;

			if ((rc = need(s, (size_t)w)) < 0)
				break;
			n = le(s->d + s->pos, w);
			s->pos += (size_t)w;
			if (n > s->len - s->pos)
				return bad(s, "string past the end");
			rc = push_new(s, P_STR, (int64_t)s->pos, n);
			s->pos += (size_t)n;
			break;
		}
		case 'J': /* BININT: signed 32 */
			if ((rc = need(s, 4)) == 0) {
				rc = push_new(s, P_INT, (int32_t)(uint32_t)le(s->d + s->pos, 4), 0);
				s->pos += 4;
			}
			break;
		case 'K': /* BININT1 */
			if ((rc = need(s, 1)) == 0)
				rc = push_new(s, P_INT, s->d[s->pos++], 0);
			break;
		case 'M': /* BININT2 */
			if ((rc = need(s, 2)) == 0) {
				rc = push_new(s, P_INT, (int64_t)le(s->d + s->pos, 2), 0);
				s->pos += 2;
			}
			break;
		case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
			uint64_t v;

			if ((rc = need(s, 1)) < 0)
				break;
			n = s->d[s->pos++];
			if (n > 8)
				return bad(s, "integer wider than 64 bits");
			if ((rc = need(s, (size_t)n)) < 0)
				break;
			v = le(s->d + s->pos, (int)n);
			if (n > 0 && n < 8 && (s->d[s->pos + n - 1] & 0x80))
				v |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
			s->pos += (size_t)n;
			rc = push_new(s, P_INT, (int64_t)v, 0);
			break;
		}
		case 's': /* SETITEM */
			if ((rc = pop(s, &b)) < 0 || (rc = pop(s, &a)) < 0)
				break;
			if (s->sp == 0)
				return bad(s, "SETITEM without a dict");
			rc = set_item(s, s->stack[s->sp - 1], a, b);
			break;
		case 'u': { /* SETITEMS */
			size_t m = s->sp;

			while (m > 0 && s->obj[s->stack[m - 1]].type != P_MARK)
				m--;
			if (m == 0)
				return bad(s, "SETITEMS without MARK");
			if ((s->sp - m) % 2 != 0)
				return bad(s, "SETITEMS with an odd number of objects");
			if (m < 2)
				return bad(s, "SETITEMS without a dict");
			for (size_t i = m; i < s->sp && rc == 0; i += 2)
				rc = set_item(s, s->stack[m - 2], s->stack[i], s->stack[i + 1]);
			s->sp = m - 1;
			break;
		}
		case 0x94: /* MEMOIZE */
			rc = memo_put(s, s->memo_len++);
			break;
		case 'q': /* BINPUT */
			if ((rc = need(s, 1)) == 0)
				rc = memo_put(s, s->d[s->pos++]);
			break;
		case 'r': /* LONG_BINPUT */
			if ((rc = need(s, 4)) == 0) {
				rc = memo_put(s, le(s->d + s->pos, 4));
				s->pos += 4;
			}
			break;
		case 'h': /* BINGET */
			if ((rc = need(s, 1)) == 0)
				rc = memo_get(s, s->d[s->pos++]);
			break;
		case 'j': /* LONG_BINGET */
			if ((rc = need(s, 4)) == 0) {
				rc = memo_get(s, le(s->d + s->pos, 4));
				s->pos += 4;
			}
			break;
		case '.': /* STOP */
			if (s->sp == 0 || s->obj[s->stack[s->sp - 1]].type != P_DICT)
				return bad(s, "the pickle is not a dict");
			*root = s->stack[s->sp - 1];
			return 0;
		default: {
			char what[64];

			s->pos--;
			snprintf(what, sizeof(what), "pickle opcode 0x%02x not allowed", op);
			return bad(s, what);
		}
		}
	}
	return rc;
}

static bool name_ok(const char *p, size_t len)
{
	if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	return memchr(p, '/', len) == NULL && memchr(p, '\0', len) == NULL;
}

static const char *const *g_sort_names;

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(g_sort_names[*(const uint32_t *)a], g_sort_names[*(const uint32_t *)b]);
}

/* -EINVAL when two children of one directory share a name.  names[i] = node i's name. */
static int check_unique(const char *const *names, uint32_t first, uint32_t count)
{
	uint32_t *ix;
	int rc = 0;

	if (count < 2)
		return 0;
	ix = malloc(count * sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++)
		ix[i] = first + i;
	g_sort_names = names;   /* qsort has no context argument; names are read only */
	qsort(ix, count, sizeof(*ix), cmp_by_name);
	for (uint32_t i = 1; i < count && rc == 0; i++)
		if (strcmp(names[ix[i - 1]], names[ix[i]]) == 0)
			rc = ffr__err(-EINVAL, "name \"%s\" appears twice in one directory",
				      names[ix[i]]);
	free(ix);
	return rc;
}

/* Build the folder from the decoded root dict. */
static int flatten(struct pstate *s, uint32_t root, struct c3fs_ffr_folder *f)
{
	uint32_t *dict_of = NULL, *key_of = NULL, *depth = NULL;
	size_t n = 1, cap = 1 + s->n_ent, name_bytes = 1;
	const char **names = NULL;
	int rc = 0;

	/* every node but the root is an entry, and an entry is placed at most once (its dict
	 * is placed once), so nodes <= 1 + entries */
	if (cap > UINT32_MAX)
		return bad(s, "too many names");
	f->nodes = calloc(cap, sizeof(*f->nodes));
	dict_of = calloc(cap, sizeof(*dict_of));
	key_of = calloc(cap, sizeof(*key_of));
	depth = calloc(cap, sizeof(*depth));
	if (!f->nodes || !dict_of || !key_of || !depth) {
		rc = ffr__err(-ENOMEM, "out of memory");
		goto out;
	}
	s->obj[root].used = 1;
	dict_of[0] = root;
	f->nodes[0].index = -1;
	for (size_t q = 0; q < n && rc == 0; q++) {   /* breadth first */
		if (f->nodes[q].index >= 0)
			continue;
		f->nodes[q].first_child = (uint32_t)n;
		for (int64_t e = s->obj[dict_of[q]].v; e >= 0; e = s->ent[e].next) {
			struct pentry *pe = &s->ent[e];
			struct pobj *k = &s->obj[pe->key], *v = &s->obj[pe->val];

			if (!name_ok((const char *)s->d + k->v, k->len)) {
				rc = bad(s, "a name that is empty, \".\", \"..\" or has '/' or NUL");
				break;
			}
			if (n >= cap) {
				rc = bad(s, "too many names");
				break;
			}
			key_of[n] = pe->key;
			name_bytes += k->len + 1;
			f->nodes[n].parent = (uint32_t)q;
			depth[n] = depth[q] + 1;
			if (v->type == P_INT) {
				if (v->v < 0) {
					rc = bad(s, "a negative sample index");
					break;
				}
				f->nodes[n].index = v->v;
			} else {
				if (v->used) {
					rc = bad(s, "a dict used twice (shared or recursive)");
					break;
				}
				if (depth[n] > FOLDER_MAX_DEPTH) {
					rc = bad(s, "directories nested too deep");
					break;
				}
				v->used = 1;
				f->nodes[n].index = -1;
				dict_of[n] = pe->val;
			}
			n++;
			f->nodes[q].n_children++;
		}
	}
	if (rc < 0)
		goto out;
	f->n = (uint32_t)n;
	f->names = malloc(name_bytes);
	names = malloc(n * sizeof(*names));
	if (!f->names || !names) {
		rc = ffr__err(-ENOMEM, "out of memory");
		goto out;
	}
	f->names[0] = '\0';
	f->nodes[0].name = f->names;
	name_bytes = 1;
	for (size_t i = 1; i < n; i++) {
		struct pobj *k = &s->obj[key_of[i]];

		memcpy(f->names + name_bytes, s->d + k->v, k->len);
		f->names[name_bytes + k->len] = '\0';
		f->nodes[i].name = f->names + name_bytes;
		name_bytes += k->len + 1;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = f->nodes[i].name;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (f->nodes[i].index < 0)
			rc = check_unique(names, f->nodes[i].first_child, f->nodes[i].n_children);
	if (rc == -EINVAL) {
		char m[512];

		snprintf(m, sizeof(m), "%s", c3fs_ffr_errmsg());
		rc = ffr__err(-EBADMSG, "packed-folder index: %s", m);
	}
out:
	free(dict_of);
	free(key_of);
	free(depth);
	free(names);
	return rc;
}

void c3fs_ffr_folder_free(struct c3fs_ffr_folder *f)
{
	if (!f)
		return;
	free(f->nodes);
	free(f->names);
	free(f);
}

int ffr__pickle_decode(const uint8_t *data, size_t len, struct c3fs_ffr_folder **out)
{
	struct pstate s = { .d = data, .len = len };
	struct c3fs_ffr_folder *f = NULL;
	uint32_t root = 0;
	int rc;

	*out = NULL;
	if (len == 0)
		return ffr__err(-EBADMSG, "packed-folder index: empty pickle");
	s.obj = malloc(len * sizeof(*s.obj));
	s.stack = malloc(len * sizeof(*s.stack));
	s.ent = malloc(len * sizeof(*s.ent));
	s.memo = malloc((len + 1) * sizeof(*s.memo));
	f = calloc(1, sizeof(*f));
	if (!s.obj || !s.stack || !s.ent || !s.memo || !f) {
		rc = ffr__err(-ENOMEM, "out of memory");
		goto out;
	}
	memset(s.memo, 0xff, (len + 1) * sizeof(*s.memo));
	rc = run(&s, &root);
	if (rc == 0)
		rc = flatten(&s, root, f);
out:
	free(s.obj);
	free(s.stack);
	free(s.ent);
	free(s.memo);
	if (rc < 0)
		c3fs_ffr_folder_free(f);
	else
		*out = f;
	return rc;
}

int c3fs_ffr_folder_parse(const void *data, size_t len, struct c3fs_ffr_folder **out)
{
	ffr__err_clear();
	*out = NULL;
	if (len < C3FS_FFR_FOLDER_MAGIC_LEN ||
	    memcmp(data, C3FS_FFR_FOLDER_MAGIC, C3FS_FFR_FOLDER_MAGIC_LEN) != 0)
		return ffr__err(-ENOENT, "not a packed folder (no index marker in the last sample)");
	return ffr__pickle_decode((const uint8_t *)data + C3FS_FFR_FOLDER_MAGIC_LEN,
				  len - C3FS_FFR_FOLDER_MAGIC_LEN, out);
}

int c3fs_ffr_folder_open(struct c3fs_ffr_reader *r, struct c3fs_ffr_folder **out)
{
	int64_t count = c3fs_ffr_reader_count(r);
	struct c3fs_ffr_sample st;
	void *buf;
	int rc;

	ffr__err_clear();
	*out = NULL;
	if (count == 0)
		return ffr__err(-ENOENT, "%s: empty dataset, not a packed folder",
				c3fs_ffr_reader_file(r, 0));
	rc = c3fs_ffr_reader_stat(r, count - 1, &st);
	if (rc < 0)
		return rc;
	if (st.size < C3FS_FFR_FOLDER_MAGIC_LEN)
		return ffr__err(-ENOENT, "%s: not a packed folder (last sample too short)",
				c3fs_ffr_reader_file(r, st.file));
	if (st.size > SIZE_MAX / 16)
		return ffr__err(-ENOMEM, "index sample of %llu bytes",
				(unsigned long long)st.size);
	buf = malloc((size_t)st.size);
	if (!buf)
		return ffr__err(-ENOMEM, "out of memory for the index sample");
	rc = c3fs_ffr_read_one(r, count - 1, buf, (size_t)st.size, NULL);
	if (rc == 0)
		rc = c3fs_ffr_folder_parse(buf, (size_t)st.size, out);
	free(buf);
	if (rc == -ENOENT || rc == -EBADMSG) {
		char m[512];

		snprintf(m, sizeof(m), "%s", c3fs_ffr_errmsg());
		ffr__err(rc, "%s: %s", c3fs_ffr_reader_file(r, st.file), m);
	}
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < (*out)->n; i++) {
		int64_t x = (*out)->nodes[i].index;

		if (x >= count - 1) {
			ffr__err(-EBADMSG,
				 "%s: packed-folder index: \"%s\" refers to sample %lld, the dataset "
				 "has %lld files",
				 c3fs_ffr_reader_file(r, st.file), (*out)->nodes[i].name,
				 (long long)x, (long long)(count - 1));
			c3fs_ffr_folder_free(*out);
			*out = NULL;
			return -EBADMSG;
		}
	}
	return 0;
}

uint32_t c3fs_ffr_folder_count(const struct c3fs_ffr_folder *f)
{
	return f->n;
}

const struct c3fs_ffr_node *c3fs_ffr_folder_node(const struct c3fs_ffr_folder *f, uint32_t i)
{
	return i < f->n ? &f->nodes[i] : NULL;
}

int64_t c3fs_ffr_folder_lookup(const struct c3fs_ffr_folder *f, const char *path)
{
	uint32_t cur = 0;
	const char *p = path;

	while (*p) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		const struct c3fs_ffr_node *d = &f->nodes[cur];
		bool found = false;

		if (l > 0) {
			if (d->index >= 0)
				return ffr__err(-ENOENT, "%s: not found (a file in the way)", path);
			for (uint32_t c = d->first_child; c < d->first_child + d->n_children; c++) {
				if (strlen(f->nodes[c].name) == l &&
				    memcmp(f->nodes[c].name, p, l) == 0) {
					cur = c;
					found = true;
					break;
				}
			}
			if (!found)
				return ffr__err(-ENOENT, "%s: not found in the packed folder", path);
		}
		p += l;
		if (*p == '/')
			p++;
	}
	return cur;
}

/* ------------------------------------------------------------------ encoder */

struct obuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put(struct obuf *b, const void *d, size_t n)
{
	if (b->err)
		return;
	if (C3_ARRAY_RESERVE(b->p, b->cap, b->len + n) < 0) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put1(struct obuf *b, uint8_t c)
{
	put(b, &c, 1);
}

static void put_le(struct obuf *b, uint64_t v, int n)
{
	uint8_t x[8];

	for (int i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put(b, x, (size_t)n);
}

static void put_int(struct obuf *b, int64_t v)
{
	if (v >= 0 && v < 256) {
		put1(b, 'K');
		put_le(b, (uint64_t)v, 1);
	} else if (v >= 0 && v < 65536) {
		put1(b, 'M');
		put_le(b, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		put1(b, 'J');
		put_le(b, (uint64_t)v, 4);
	} else {
		put1(b, 0x8a);
		put1(b, 8);
		put_le(b, (uint64_t)v, 8);
	}
}

static void put_dict(struct obuf *b, const struct c3fs_ffr_node *nodes, uint32_t d)
{
	static const char global[] = "ccollections\nOrderedDict\n";
	const struct c3fs_ffr_node *dn = &nodes[d];

	put(b, global, sizeof(global) - 1);
	put1(b, ')');
	put1(b, 'R');
	for (uint32_t i = 0; i < dn->n_children; i++) {
		const struct c3fs_ffr_node *c = &nodes[dn->first_child + i];
		size_t l = strlen(c->name);

		if (i % 1000 == 0)
			put1(b, '(');
		put1(b, 'X');
		put_le(b, l, 4);
		put(b, c->name, l);
		if (c->index >= 0)
			put_int(b, c->index);
		else
			put_dict(b, nodes, dn->first_child + i);
		if (i % 1000 == 999 || i + 1 == dn->n_children)
			put1(b, 'u');
	}
}

/* The tree is well formed: node 0 a directory, children ranges inside [1, n), every node
 * but the root in exactly one range, parents consistent, names valid and unique per
 * directory, depth bounded (so put_dict's recursion is bounded). */
static int tree_check(const struct c3fs_ffr_node *nodes, uint32_t n)
{
	uint8_t *seen;
	uint32_t *depth;
	const char **names;
	int rc = 0;

	if (n == 0 || nodes[0].index >= 0)
		return ffr__err(-EINVAL, "folder tree: node 0 must be the root directory");
	seen = calloc(n, 1);
	depth = calloc(n, sizeof(*depth));
	names = calloc(n, sizeof(*names));
	if (!seen || !depth || !names) {
		rc = ffr__err(-ENOMEM, "out of memory");
		goto out;
	}
	seen[0] = 1;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct c3fs_ffr_node *d = &nodes[i];

		names[i] = d->name ? d->name : "";
		if (i > 0 && (!d->name || !name_ok(d->name, strlen(d->name))))
			rc = ffr__err(-EINVAL, "folder tree: node %u: bad name", i);
		if (d->index >= 0 || rc < 0)
			continue;
		if (d->n_children > 0 &&
		    (d->first_child == 0 || d->first_child >= n ||
		     d->n_children > n - d->first_child)) {
			rc = ffr__err(-EINVAL, "folder tree: node %u: children out of range", i);
			break;
		}
		for (uint32_t c = d->first_child; c < d->first_child + d->n_children; c++) {
			if (seen[c] || nodes[c].parent != i) {
				rc = ffr__err(-EINVAL, "folder tree: node %u placed twice", c);
				break;
			}
			seen[c] = 1;
		}
	}
	for (uint32_t i = 0; i < n && rc == 0; i++)
		if (!seen[i])
			rc = ffr__err(-EINVAL, "folder tree: node %u in no directory", i);
	/* parents form a tree rooted at 0 (no cycle, since each node has one parent and
	 * reaching the root is checked with a depth bound) */
	for (uint32_t i = 1; i < n && rc == 0; i++) {
		uint32_t d = 0, p = i;

		while (p != 0 && d <= FOLDER_MAX_DEPTH) {
			p = nodes[p].parent;
			d++;
		}
		if (p != 0)
			rc = ffr__err(-EINVAL, "folder tree: node %u nested too deep", i);
	}
	for (uint32_t i = 0; i < n && rc == 0; i++)
		if (nodes[i].index < 0)
			rc = check_unique(names, nodes[i].first_child, nodes[i].n_children);
out:
	free(seen);
	free(depth);
	free(names);
	return rc;
}

int c3fs_ffr_folder_encode(const struct c3fs_ffr_node *nodes, uint32_t n_nodes, void **out,
			   size_t *out_len)
{
	struct obuf b = { 0 };
	int rc;

	ffr__err_clear();
	*out = NULL;
	*out_len = 0;
	rc = tree_check(nodes, n_nodes);
	if (rc < 0)
		return rc;
	put(&b, C3FS_FFR_FOLDER_MAGIC, C3FS_FFR_FOLDER_MAGIC_LEN);
	put1(&b, 0x80);
	put1(&b, 2);
	put_dict(&b, nodes, 0);
	put1(&b, '.');
	if (b.err) {
		free(b.p);
		return ffr__err(b.err, "out of memory");
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
