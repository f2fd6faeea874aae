/* errors.c — messages and errno mapping for the codes in errors.def. */
#include "common/errors.h"

#include <errno.h>
#include <string.h>

struct c3_errinfo {
	int code;
	int eno;
	const char *name;
	const char *msg;
};

static const struct c3_errinfo c3_errtab[] = {
#define C3_ERR(name, code, eno, msg) { code, eno, #name, msg },
#include "common/errors.def"
#undef C3_ERR
};

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
