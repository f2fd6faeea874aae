/* file.c — open files of libc3fs: sessions, reads, writes, length reports.
 *
 * Lifecycle of a struct c3fs_file:
 *
 *   c3fs_open / c3fs_create --(meta OPEN/CREATE: session)--> OPEN
 *   OPEN --pwrite--> OPEN (inode dirty: written_end grows, mtime hint = now)
 *   OPEN --fsync / background every length_sync_ms--> OPEN (meta SYNC: length reported)
 *   OPEN --c3fs_close--> (meta CLOSE: length reported, session ended) freed
 *   OPEN --c3fs_close, nothing to report--> session end queued (client.c: one RELEASE
 *        transaction for the closes of up to CLIENT_RELEASE_DELAY_MS) freed
 *
 * Writes are on the storage service when c3fs_pwrite returns; what a report adds is the
 * file length (and mtime) in meta, so that other clients see it.  Until then this client
 * merges its own unreported length into every attribute it returns (client.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "client/client_int.h"
#include "common/clock.h"
#include "common/errors.h"

static uint32_t file_meta_flags(int flags)
{
	uint32_t m = 0;

	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		m = META_O_WRITE;
		break;
	case O_RDWR:
		m = META_O_READ | META_O_WRITE;
		break;
	default:
		m = META_O_READ;
		break;
	}
	if ((flags & O_TRUNC) && (m & META_O_WRITE))
		m |= META_O_TRUNC;
	if (flags & O_APPEND)
		m |= META_O_APPEND;
	return m;
}

/* Build the file object from an OPEN/CREATE reply. */
static int file_make(struct c3fs_client *cl, const struct c3fs_cred *cr,
		     const struct meta_open_resp *rsp, int flags, struct c3fs_file **out)
{
	struct c3fs_file *f;
	int rc;

	if (!S_ISREG(rsp->attr.mode))
		return S_ISDIR(rsp->attr.mode) ? -EISDIR : -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->inode = client__inode_get(cl, &rsp->attr, &rc);
	if (!f->inode) {
		free(f);
		return rc;
	}
	f->cl = cl;
	f->ino = rsp->attr.ino;
	f->session_id = rsp->session_id;
	f->flags = flags;
	f->attr = rsp->attr;
	f->can_read = (flags & O_ACCMODE) != O_WRONLY;
	f->can_write = (flags & O_ACCMODE) != O_RDONLY;
	if (cr)
		f->cred = *cr;
	if ((flags & O_TRUNC) && f->can_write) {
		/* meta truncated the file (and its chunks) before replying */
		pthread_mutex_lock(&f->inode->lock);
		f->inode->written_end = 0;
		f->inode->dirty = false;
		f->inode->meta_length = 0;
		if (f->attr.truncate_ver > f->inode->trunc_ver)
			f->inode->trunc_ver = f->attr.truncate_ver;
		f->inode->write_gen++;
		pthread_mutex_unlock(&f->inode->lock);
	}
	*out = f;
	return 0;
}

/* End a session the caller could not use (so meta does not keep it until it expires). */
static void file_abandon(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino,
			 uint64_t session_id)
{
	struct meta_close_req req;
	struct c3_buf b = C3_BUF_INIT;

	if (!session_id)
		return;
	memset(&req, 0, sizeof(req));
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	req.session_id = session_id;
	meta_close_req_encode(&req, &b);
	client__meta_call(cl, META_T_CLOSE, &b, NULL);
	c3_buf_release(&b);
}

static int file_open_reply(struct c3fs_client *cl, const struct c3fs_cred *cr, uint16_t type,
			   struct c3_buf *b, int flags, struct c3fs_attr *attr,
			   struct c3fs_file **out)
{
	struct c3_buf r = C3_BUF_INIT;
	struct meta_open_resp rsp;
	uint64_t gen = client__dattr_gen(cl);
	int rc;

	rc = client__meta_call(cl, type, b, &r);
	if (rc == 0)
		rc = meta_open_resp_decode(r.data, r.len, &rsp);
	if (rc == 0)
		client__dattr_put(cl, gen, &rsp.parent); /* a create's directory */
	if (rc == 0) {
		rc = file_make(cl, cr, &rsp, flags, out);
		if (rc)
			file_abandon(cl, cr, rsp.attr.ino, rsp.session_id);
		else if (attr)
			client__attr_from_meta(cl, &rsp.attr, attr);
	}
	c3_buf_release(b);
	c3_buf_release(&r);
	return rc;
}

int c3fs_open(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t ino, int flags,
	      struct c3fs_file **out)
{
	struct meta_open_req req;
	struct c3_buf b = C3_BUF_INIT;

	*out = NULL;
	if (flags & O_TRUNC) {
		int rc = client__flush_length(cl, ino); /* see c3fs_setattr */

		if (rc)
			return rc;
	}
	client__hdr(cl, cr, false, &req.hdr);
	req.ino = ino;
	req.flags = file_meta_flags(flags);
	meta_open_req_encode(&req, &b);
	return file_open_reply(cl, cr, META_T_OPEN, &b, flags, NULL, out);
}

int c3fs_create(struct c3fs_client *cl, const struct c3fs_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, int flags, struct c3fs_attr *attr,
		struct c3fs_file **out)
{
	struct meta_create_req req = {
		.mode = mode & 07777,
		.flags = file_meta_flags(flags) | ((flags & O_EXCL) ? META_O_EXCL : 0),
	};
	struct c3_buf b = C3_BUF_INIT;
	int rc;

	*out = NULL;
	rc = client__entry_name(parent, name, &req.parent, &req.name, &req.name_len);
	if (rc)
		return rc;
	client__hdr(cl, cr, true, &req.hdr);
	meta_create_req_encode(&req, &b);
	return file_open_reply(cl, cr, META_T_CREATE, &b, flags, attr, out);
}

uint64_t c3fs_file_ino(const struct c3fs_file *f) { return f->ino; }

void c3fs_file_attr(const struct c3fs_file *f, struct c3fs_attr *out)
{
	struct meta_attr a;

	pthread_mutex_lock(&f->inode->lock);
	a = f->attr;
	pthread_mutex_unlock(&f->inode->lock);
	client__attr_from_meta(f->cl, &a, out);
}

uint64_t c3fs_file_size_hint(const struct c3fs_file *f)
{
	struct client_inode *in = f->inode;
	uint64_t n;

	pthread_mutex_lock(&in->lock);
	n = in->meta_length > in->written_end ? in->meta_length : in->written_end;
	if (in->pending_end > n)
		n = in->pending_end;
	pthread_mutex_unlock(&in->lock);
	return n;
}

void client__file_read_prep(struct c3fs_file *f, uint64_t off, uint64_t len, uint64_t *known)
{
	client__wait_writes(f->inode, off, len, false);
	*known = c3fs_file_size_hint(f);
}

uint64_t client__file_read_result(uint64_t off, uint64_t len, uint64_t known, uint64_t data_end)
{
	/* the whole range was read: chunks may hold data written by other clients that this
	 * one has not heard of yet; the replies say where data ends */
	uint64_t end = known > data_end ? known : data_end;

	if (end <= off)
		return 0;
	return end - off < len ? end - off : len;
}

/* Make sure meta lets the file's chunks reach the chains that [.., end) needs. */
static int file_widen(struct c3fs_file *f, uint64_t end)
{
	struct client_inode *in = f->inode;
	struct meta_setattr_req req;
	struct c3_buf b = C3_BUF_INIT, r = C3_BUF_INIT;
	struct meta_attr_resp rsp;
	uint32_t need;
	int rc;

	pthread_mutex_lock(&in->lock);
	need = meta_layout_dyn_needed(&in->layout, in->layout.dyn_stripe, end);
	if (need <= in->layout.dyn_stripe) {
		pthread_mutex_unlock(&in->lock);
		return 0;
	}
	pthread_mutex_unlock(&in->lock);
	memset(&req, 0, sizeof(req));
	client__hdr(f->cl, &f->cred, false, &req.hdr);
	req.ino = f->ino;
	req.mask = META_SET_DYN_STRIPE;
	req.dyn_stripe = need;
	req.session_id = f->session_id;
	meta_setattr_req_encode(&req, &b);
	rc = client__meta_call(f->cl, META_T_SETATTR, &b, &r);
	if (rc == 0 && meta_attr_resp_decode(r.data, r.len, &rsp) == 0 &&
	    rsp.attr.layout.dyn_stripe > need)
		need = rsp.attr.layout.dyn_stripe;
	if (rc == 0) {
		pthread_mutex_lock(&in->lock);
		if (need > in->layout.dyn_stripe && need <= in->layout.stripe)
			in->layout.dyn_stripe = need;
		pthread_mutex_unlock(&in->lock);
	}
	c3_buf_release(&b);
	c3_buf_release(&r);
	return rc;
}

int client__file_write_prep(struct c3fs_file *f, uint64_t *off, uint64_t len, bool at_off)
{
	uint64_t end;

	if (!f->can_write)
		return -EBADF;
	if ((f->flags & O_APPEND) && !at_off)
		*off = c3fs_file_size_hint(f);
	end = *off + len;
	if (end < *off || end / f->inode->layout.chunk_size > UINT32_MAX)
		return -EFBIG;
	return file_widen(f, end);
}

void client__file_write_done(struct c3fs_file *f, uint64_t end)
{
	struct client_inode *in = f->inode;

	pthread_mutex_lock(&in->lock);
	if (end > in->written_end)
		in->written_end = end;
	in->dirty = true;
	in->write_gen++;
	in->last_write_ns = c3_wall_ns();
	if (!in->sync_session && f->session_id) {
		in->sync_session = f->session_id;
		in->sync_cred = f->cred;
	}
	pthread_mutex_unlock(&in->lock);
}

int c3fs_fsync(struct c3fs_file *f, bool datasync)
{
	struct meta_attr a;
	int rc;

	(void)datasync;
	rc = client__wait_writes_intr(f->cl, f->inode, 0, 0, true);
	if (rc)
		return rc;
	if (!f->can_write || !f->session_id)
		return 0;
	memset(&a, 0, sizeof(a));
	rc = client__report_length(f->cl, f->inode, META_T_SYNC, &f->cred, f->session_id, &a);
	if (rc == 0 && a.ino == f->ino) {
		pthread_mutex_lock(&f->inode->lock);
		f->attr = a;
		pthread_mutex_unlock(&f->inode->lock);
	}
	return rc;
}

int c3fs_close_attr(struct c3fs_file *f, struct c3fs_attr *out)
{
	struct client_inode *in;
	struct meta_attr a;
	bool owed;
	int rc = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!f)
		return 0;
	in = f->inode;
	memset(&a, 0, sizeof(a));
	/* this file's queued writes must finish before it goes; their error is ours */
	rc = client__wait_writes(in, 0, 0, f->can_write);
	pthread_mutex_lock(&in->lock);
	owed = f->can_write && in->dirty;
	pthread_mutex_unlock(&in->lock);
	if (f->session_id && owed) {
		int rrc = client__report_length(f->cl, in, META_T_CLOSE, &f->cred, f->session_id, &a);

		if (!rc)
			rc = rrc;
	} else if (f->session_id) {
		/* nothing to report (never written, or reported already): ending the session is
		 * all that is left, and it can wait a little to share a transaction with others */
		client__release_defer(f->cl, f->ino, f->session_id);
		if (f->can_write) {
			pthread_mutex_lock(&in->lock);
			a = f->attr; /* as of the last report through this handle (or the open) */
			pthread_mutex_unlock(&in->lock);
		}
	}
	pthread_mutex_lock(&in->lock);
	if (in->sync_session == f->session_id)
		in->sync_session = 0;
	pthread_mutex_unlock(&in->lock);
	if (out && rc == 0 && a.ino == f->ino)
		client__attr_from_meta(f->cl, &a, out);
	client__inode_put(f->cl, in);
	free(f);
	return rc;
}

int c3fs_close(struct c3fs_file *f)
{
	return c3fs_close_attr(f, NULL);
}
