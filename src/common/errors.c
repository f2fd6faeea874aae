/* errors.c — messages, errno mapping and retry classes of the codes in errors.def. */
#include "common/errors.h"

#include <errno.h>
#include <string.h>

/* The retry column: a class in the low bits, flags above. */
enum {
	C3_ERRC_NO = 0,
	C3_ERRC_AGAIN = 1,
	C3_ERRC_ROUTE = 2,
	C3_ERRC_READ = 3,
	C3_ERRC_CLASS = 3, /* mask */
	C3_ERRC_PEER = 4,
	C3_ERRC_ORIGIN = 8,
};

struct c3_errinfo {
	int code;
	int eno;
	unsigned retry; /* C3_ERRC_* */
	const char *name;
	const char *msg;
};

/* the words of the retry column, only while errors.def is read */
#define NO C3_ERRC_NO
#define AGAIN C3_ERRC_AGAIN
#define ROUTE C3_ERRC_ROUTE
#define READ C3_ERRC_READ
#define PEER C3_ERRC_PEER
#define ORIGIN C3_ERRC_ORIGIN

static const struct c3_errinfo c3_errtab[] = {
#define C3_ERR(name, code, eno, retry, msg) { code, eno, retry, #name, msg },
#define C3_ERRNO(eno, retry)
#include "common/errors.def"
#undef C3_ERRNO
#undef C3_ERR
};

static const struct {
	int eno;
	unsigned retry;
} c3_errnotab[] = {
#define C3_ERR(name, code, eno, retry, msg)
#define C3_ERRNO(eno, retry) { eno, retry },
#include "common/errors.def"
#undef C3_ERRNO
#undef C3_ERR
};

#undef NO
#undef AGAIN
#undef ROUTE
#undef READ
#undef PEER
#undef ORIGIN

static const struct c3_errinfo *c3_errinfo_find(int code)
{
	if (code < 0)
		code = -code;
	for (size_t i = 0; i < sizeof(c3_errtab) / sizeof(c3_errtab[0]); i++)
		if (c3_errtab[i].code == code)
			return &c3_errtab[i];
	return NULL;
}

const char *c3_strerror(int code)
{
	const struct c3_errinfo *e;

	if (code == 0)
		return "success";
	e = c3_errinfo_find(code);
	if (e)
		return e->msg;
	if (code < 0)
		code = -code;
	if (code < 1000)
		return strerror(code);
	return "unknown c3fs error";
}

int c3_errno_of(int code)
{
	const struct c3_errinfo *e;

	if (code < 0)
		code = -code;
	if (code == 0)
		return 0;
	if (code < 1000)
		return code;
	e = c3_errinfo_find(code);
	return e ? e->eno : EIO;
}

const char *c3_errname(int code)
{
	const struct c3_errinfo *e;

	if (code < 0)
		code = -code;
	e = c3_errinfo_find(code);
	if (e)
		return e->name;
	if (code > 0 && code < 1000) {
		const char *n = strerrorname_np(code);
		return n ? n : "E?";
	}
	return "E?";
}

/* The retry column of code (C3_ERRC_NO for success and unknown codes). */
static unsigned c3_err_retry_bits(int code)
{
	const struct c3_errinfo *e;

	if (code < 0)
		code = -code;
	if (code > 0 && code < 1000) {
		for (size_t i = 0; i < sizeof(c3_errnotab) / sizeof(c3_errnotab[0]); i++)
			if (c3_errnotab[i].eno == code)
				return c3_errnotab[i].retry;
		return C3_ERRC_NO;
	}
	e = code ? c3_errinfo_find(code) : NULL;
	return e ? e->retry : C3_ERRC_NO;
}

enum c3_retry c3_err_retry(int code, enum c3_retry_who who)
{
	unsigned bits = c3_err_retry_bits(code);

	switch (bits & C3_ERRC_CLASS) {
	case C3_ERRC_READ:
		/* another replica may hold the chunk intact; a write has no other copy to try */
		return who == C3_RETRY_READ ? C3_RETRY_AGAIN : C3_RETRY_NO;
	case C3_ERRC_AGAIN:
	case C3_ERRC_ROUTE:
		/* a chain member does not resend what only its origin can fix (the chain or
		 * target named is gone, the successor needs the whole chunk, a later member
		 * already gave up): the origin refreshes its routing and resends */
		if (who == C3_RETRY_CHAIN && (bits & C3_ERRC_ORIGIN))
			return C3_RETRY_NO;
		return (bits & C3_ERRC_CLASS) == C3_ERRC_ROUTE ? C3_RETRY_ROUTE : C3_RETRY_AGAIN;
	default:
		return C3_RETRY_NO;
	}
}

bool c3_err_is_peer(int code)
{
	return (c3_err_retry_bits(code) & C3_ERRC_PEER) != 0;
}
