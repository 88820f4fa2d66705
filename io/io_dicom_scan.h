/* io_dicom_scan.h — a bounded, iterative pre-scan of a DICOM file's structure, run before
 * DCMTK parses it (io_dicom_shim.cpp).
 *
 *     // given: io_dicom_is_sq_fn is_sq;      // the data dictionary's SQ tags (DCMTK's, in the shim)
 *     uint64_t size;
 *     int fd = io_fs_open_input("a.dcm", 0, &size, &err);
 *     if (fd >= 0 && io_dicom_scan(fd, size, IO_DICOM_MAX_DEPTH, is_sq, "a.dcm", &err) != 0)
 *         ...;    // err: too deeply nested sequences, at which byte offset
 *
 * DCMTK parses sequences recursively (item -> sequence -> item ...): a file of 20,000 nested
 * sequences, 700 kB uncompressed and a few kB deflated, overflows the stack. This scan walks
 * the same elements with an explicit stack of at most max_depth + 2 open containers and
 * refuses the file when sequences nest deeper than max_depth, before DCMTK sees it.
 *
 * It follows DCMTK's rules for what is a sequence: VR SQ; VR UN with undefined length (its
 * content is implicit VR little endian); in implicit VR a tag the data dictionary calls SQ
 * (is_sq) or any tag with undefined length; Pixel Data with undefined length is a sequence of
 * fragments (no nesting inside). Explicit and implicit VR, little and big endian, defined and
 * undefined lengths, and the deflated transfer syntax (inflated on the fly with zlib, at most
 * IO_DICOM_MAX_INFLATED bytes) are handled. Values are skipped (lseek), so the cost is one pass
 * over the element headers.
 *
 * Where the scan meets something it cannot parse (a truncated element, an unknown VR, an item
 * outside a sequence, a length past the end), it stops and accepts what it has seen: DCMTK
 * then reports the damage. Nesting is over-estimated rather than under-estimated when the
 * structure is ambiguous (a sequence whose defined length is overrun closes only when its
 * innermost open item does).
 */
#ifndef IO_DICOM_SCAN_H
#define IO_DICOM_SCAN_H

#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IO_DICOM_MAX_DEPTH 64                      /* nested sequences */
#define IO_DICOM_MAX_INFLATED ((uint64_t)1 << 30) /* bytes of a deflated data set */

/* 1 if the data dictionary says (group,element) has VR SQ. */
typedef int (*io_dicom_is_sq_fn)(uint16_t group, uint16_t element);

/* Scans the file open on fd (size bytes, read from offset 0 with pread). Returns 0 when the
 * nesting is at most max_depth (or the scan stopped early, see above); -1 with err (WB_E_DATA,
 * naming path, the nesting depth and the byte offset) when it is deeper or a deflated data set
 * inflates to more than IO_DICOM_MAX_INFLATED bytes. */
int io_dicom_scan(int fd, uint64_t size, int max_depth, io_dicom_is_sq_fn is_sq,
                  const char *path, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
