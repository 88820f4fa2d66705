/* fuzz_xlsx.c — io_xlsx_parse on arbitrary bytes, then every cell of the table it gives.
 * A mutated ZIP rarely keeps its CRC-32s, so inputs starting with '<' are taken as the sheet's
 * XML and wrapped here in a well-formed workbook (stored members, right CRCs; a fixed shared
 * strings part): the fuzzer then reaches the sheet parser as well as the container. */
#include <zlib.h>

#include "fuzz_common.h"
#include "io/io_xlsx.h"

static const char *const k_parts[3][2] = {
    {"xl/workbook.xml", "<workbook xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
                        "<sheets><sheet name=\"s\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"},
    {"xl/_rels/workbook.xml.rels", "<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/>"
                                   "</Relationships>"},
    {"xl/sharedStrings.xml", "<sst><si><t>a</t></si><si><r><t>b</t></r><r><t>c</t></r></si><si><t>d,\"e\"</t></si></sst>"},
};

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, unsigned long v) { put16(p, (unsigned)(v & 0xffff)), put16(p + 2, (unsigned)(v >> 16)); }

/* A stored ZIP of the three fixed parts and the sheet data[0..n); NULL when out of memory. */
static unsigned char *wrap(const uint8_t *data, size_t n, size_t *len)
{
    const char *names[4] = {k_parts[0][0], k_parts[1][0], k_parts[2][0], "xl/worksheets/sheet1.xml"};
    const unsigned char *body[4] = {(const unsigned char *)k_parts[0][1], (const unsigned char *)k_parts[1][1],
                                    (const unsigned char *)k_parts[2][1], data};
    size_t size[4] = {strlen(k_parts[0][1]), strlen(k_parts[1][1]), strlen(k_parts[2][1]), n}, total = 22, off[4];
    for (int i = 0; i < 4; i++) total += 30 + 46 + 2 * strlen(names[i]) + size[i];
    unsigned char *z = calloc(1, total), *p = z;
    if (!z) return NULL;
    for (int i = 0; i < 4; i++) {
        const size_t nl = strlen(names[i]);
        off[i] = (size_t)(p - z);
        put32(p, 0x04034b50ul), put32(p + 14, crc32(0L, body[i], (uInt)size[i]));
        put32(p + 18, size[i]), put32(p + 22, size[i]), put16(p + 26, (unsigned)nl);
        memcpy(p + 30, names[i], nl), memcpy(p + 30 + nl, body[i], size[i]);
        p += 30 + nl + size[i];
    }
    const size_t cd = (size_t)(p - z);
    for (int i = 0; i < 4; i++) {
        const size_t nl = strlen(names[i]);
        put32(p, 0x02014b50ul), put32(p + 16, crc32(0L, body[i], (uInt)size[i]));
        put32(p + 20, size[i]), put32(p + 24, size[i]), put16(p + 28, (unsigned)nl), put32(p + 42, off[i]);
        memcpy(p + 46, names[i], nl);
        p += 46 + nl;
    }
    put32(p, 0x06054b50ul), put16(p + 8, 4), put16(p + 10, 4), put32(p + 12, (size_t)(p - z) - cd), put32(p + 16, cd);
    *len = (size_t)(p - z) + 22;
    return z;
}

static void walk(const uint8_t *data, size_t size)
{
    io_csv t;
    wb_error err;
    if (io_xlsx_parse(data, size, "fuzz.xlsx", &t, &err) == 0) {
        volatile size_t len = 0;
        for (size_t c = 0; c < t.n_cols; c++) len += strlen(t.header[c]);
        for (size_t r = 0; r < t.n_rows; r++)
            for (size_t c = 0; c < t.n_cols; c++) len += strlen(io_csv_cell(&t, r, (long)c));
        (void)len;
        io_csv_free(&t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '<' && size < (1u << 20)) {
        size_t n = 0;
        unsigned char *z = wrap(data, size, &n);
        if (z) walk(z, n);
        free(z);
        return 0;
    }
    walk(data, size);
    return 0;
}
