// io_dicom_shim.cpp — the DCMTK side of io_dicom.h. The only C++ in the DICOM path: it parses
// and decompresses with DCMTK, then hands stored values to plain loops that apply the
// Modality LUT, the VOI LUT and the MONOCHROME1 inversion. No exception crosses the C API.

#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "io/io_j2k.h"
#include "io/io_dicom_scan.h"
#include "base/wb_log.h"

#include <sys/mman.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcpath.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/dcmjpls/djrparam.h"
#include "dcmtk/oflog/oflog.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <strings.h>
#include <iconv.h>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace {

std::once_flag g_codecs_once;

// Registers every codec Debian's DCMTK has, once per process, and silences DCMTK's own
// logger: our errors carry the reason instead.
void register_codecs()
{
    std::call_once(g_codecs_once, [] {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
    });
}

// Copies s (UTF-8) into a meta field, cut at a character boundary when it is too long.
void copy_str(char *dst, const std::string &s)
{
    size_t n = s.size() < IO_DICOM_STR - 1 ? s.size() : IO_DICOM_STR - 1;
    if (n < s.size())
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

const char k_replacement[] = "\xEF\xBF\xBD"; // U+FFFD

// Length of the valid UTF-8 sequence at p (at most n bytes), 0 if there is none.
size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp;
    size_t k;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

// UTF-8 as it is, each byte that is not part of a valid sequence replaced by U+FFFD.
std::string utf8_clean(const std::string &raw)
{
    std::string out;
    const unsigned char *p = (const unsigned char *)raw.data();
    for (size_t i = 0, n = raw.size(); i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) out.append(raw, i, k), i += k;
        else out += k_replacement, i++;
    }
    return out;
}

// The iconv name of a Specific Character Set (0008,0005) defined term (PS3.3 C.12.1.1.2),
// "" for the default repertoire (ASCII), "UTF-8" for ISO_IR 192, NULL if unknown. The ISO 2022
// terms map to their G1 set (escape sequences are not interpreted).
const char *charset_iconv(const std::string &term)
{
    static const struct { const char *dicom, *iconv; } k[] = {
        {"", ""}, {"ISO_IR 6", ""}, {"ISO 2022 IR 6", ""},
        {"ISO_IR 100", "ISO-8859-1"}, {"ISO 2022 IR 100", "ISO-8859-1"},
        {"ISO_IR 101", "ISO-8859-2"}, {"ISO 2022 IR 101", "ISO-8859-2"},
        {"ISO_IR 109", "ISO-8859-3"}, {"ISO 2022 IR 109", "ISO-8859-3"},
        {"ISO_IR 110", "ISO-8859-4"}, {"ISO 2022 IR 110", "ISO-8859-4"},
        {"ISO_IR 144", "ISO-8859-5"}, {"ISO 2022 IR 144", "ISO-8859-5"},
        {"ISO_IR 127", "ISO-8859-6"}, {"ISO 2022 IR 127", "ISO-8859-6"},
        {"ISO_IR 126", "ISO-8859-7"}, {"ISO 2022 IR 126", "ISO-8859-7"},
        {"ISO_IR 138", "ISO-8859-8"}, {"ISO 2022 IR 138", "ISO-8859-8"},
        {"ISO_IR 148", "ISO-8859-9"}, {"ISO 2022 IR 148", "ISO-8859-9"},
        {"ISO_IR 203", "ISO-8859-15"}, {"ISO 2022 IR 203", "ISO-8859-15"},
        {"ISO_IR 166", "TIS-620"}, {"ISO 2022 IR 166", "TIS-620"},
        {"ISO_IR 192", "UTF-8"}, {"GB18030", "GB18030"}, {"GBK", "GBK"},
    };
    for (const auto &e : k)
        if (term == e.dicom) return e.iconv;
    return nullptr;
}

// A text value's bytes as UTF-8: decoded by the data set's Specific Character Set; what cannot
// be decoded becomes U+FFFD. With the default repertoire (no (0008,0005)) bytes above 0x7F are
// not ASCII: they are kept only where they form valid UTF-8 (files that write UTF-8 without
// saying so), otherwise replaced. An unknown character set is treated the same way.
std::string to_utf8(const std::string &raw, const std::string &term)
{
    bool ascii = true;
    for (unsigned char c : raw) ascii = ascii && c < 0x80;
    if (ascii) return raw;
    const char *cs = charset_iconv(term);
    if (!cs || !cs[0] || !strcmp(cs, "UTF-8")) return utf8_clean(raw);
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1) return utf8_clean(raw);
    std::string out;
    std::vector<char> buf(raw.size() * 4 + 16);
    char *in = const_cast<char *>(raw.data());
    size_t in_left = raw.size();
    while (in_left > 0) {
        char *o = buf.data();
        size_t o_left = buf.size();
        size_t r = iconv(cd, &in, &in_left, &o, &o_left);
        out.append(buf.data(), (size_t)(o - buf.data()));
        if (r == (size_t)-1) {
            if (errno == E2BIG) continue;
            out += k_replacement; // EILSEQ or EINVAL: one undecodable byte
            in++;
            in_left--;
        }
    }
    iconv_close(cd);
    return utf8_clean(out); // iconv's output is UTF-8; this only guards against surprises
}

std::string get_str(DcmItem *item, const DcmTagKey &tag)
{
    OFString v;
    if (item->findAndGetOFString(tag, v).good())
        return std::string(v.c_str());
    return std::string();
}

bool get_long(DcmItem *item, const DcmTagKey &tag, long *out, unsigned long pos = 0)
{
    DcmElement *el = nullptr;
    if (item->findAndGetElement(tag, el).bad() || !el || el->getVM() <= pos)
        return false;
    switch (el->ident()) {
    case EVR_US: {
        Uint16 v;
        if (el->getUint16(v, pos).bad()) return false;
        *out = v;
        return true;
    }
    case EVR_SS: {
        Sint16 v;
        if (el->getSint16(v, pos).bad()) return false;
        *out = v;
        return true;
    }
    case EVR_UL: {
        Uint32 v;
        if (el->getUint32(v, pos).bad()) return false;
        *out = (long)v;
        return true;
    }
    case EVR_SL: {
        Sint32 v;
        if (el->getSint32(v, pos).bad()) return false;
        *out = v;
        return true;
    }
    case EVR_IS: {
        Sint32 v;
        if (el->getSint32(v, pos).bad()) return false;
        *out = v;
        return true;
    }
    default: return false;
    }
}

bool get_double(DcmItem *item, const DcmTagKey &tag, double *out, unsigned long pos = 0)
{
    Float64 v;
    if (item->findAndGetFloat64(tag, v, pos).bad() || !std::isfinite(v))
        return false;
    *out = v;
    return true;
}

unsigned long get_vm(DcmItem *item, const DcmTagKey &tag)
{
    DcmElement *el = nullptr;
    if (item->findAndGetElement(tag, el).bad() || !el)
        return 0;
    return el->getVM();
}

// "(0028,0100) Bits Allocated": the tag and its name as the standard writes it, made from
// DCMTK's keyword ("BitsAllocated", "SamplesPerPixel" -> "Samples per Pixel").
const char *tag_label(const DcmTagKey &tag, char *buf, size_t n)
{
    DcmTag t(tag);
    const std::string kw = t.getTagName();
    std::string name;
    for (size_t i = 0; i < kw.size(); i++) {
        const bool up = isupper((unsigned char)kw[i]);
        const bool prev_low = i > 0 && islower((unsigned char)kw[i - 1]);
        const bool acronym_end = i > 0 && isupper((unsigned char)kw[i - 1]) && i + 1 < kw.size() &&
                                 islower((unsigned char)kw[i + 1]);
        if (up && (prev_low || acronym_end)) name += ' ';
        name += kw[i];
    }
    static const char *const small[] = {" Of ", " Per ", " In ", " To ", " And ", " For ", " On "};
    for (const char *w : small) {
        for (size_t p = name.find(w); p != std::string::npos; p = name.find(w, p + 1))
            name[p + 1] = (char)tolower((unsigned char)name[p + 1]);
    }
    snprintf(buf, n, "(%04X,%04X) %s", tag.getGroup(), tag.getElement(), name.c_str());
    return buf;
}

int err_tag(wb_error *err, const char *path, const DcmTagKey &tag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int err_tag(wb_error *err, const char *path, const DcmTagKey &tag, const char *fmt, ...)
{
    char key[160];
    tag_label(tag, key, sizeof key);
    va_list ap;
    va_start(ap, fmt);
    wb_err_v(err, WB_E_DATA, path, 0, 0, key, fmt, ap);
    va_end(ap);
    return -1;
}

// A LUT from a Modality or VOI LUT Sequence item: descriptor (entries, first mapped, bits).
struct Lut {
    long first = 0;
    int bits = 16;
    std::vector<double> data;
    double lookup(double v) const
    {
        double idx = std::floor(v) - (double)first;
        if (idx < 0) idx = 0;
        if (idx > (double)(data.size() - 1)) idx = (double)(data.size() - 1);
        return data[(size_t)idx];
    }
};

int read_lut(DcmItem *item, const char *path, const DcmTagKey &seq, Lut *lut, wb_error *err)
{
    long n = 0, first = 0, bits = 0;
    if (!get_long(item, DCM_LUTDescriptor, &n, 0) || !get_long(item, DCM_LUTDescriptor, &first, 1) ||
        !get_long(item, DCM_LUTDescriptor, &bits, 2))
        return err_tag(err, path, seq, "item 1 has no valid (0028,3002) LUT Descriptor");
    // Entries are unsigned (0 means 65536); first mapped follows the pixel sign (SS or US).
    if (n <= 0) n += 65536;
    if (bits < 1 || bits > 16)
        return err_tag(err, path, DCM_LUTDescriptor, "bits per entry is %ld, expected 1 to 16", bits);
    const Uint16 *d = nullptr;
    unsigned long count = 0;
    if (item->findAndGetUint16Array(DCM_LUTData, d, &count).bad() || !d)
        return err_tag(err, path, DCM_LUTData, "missing or unreadable in the %s item",
                       DcmTag(seq).getTagName());
    if ((long)count < n)
        return err_tag(err, path, DCM_LUTData, "has %lu entries, the LUT Descriptor says %ld",
                       count, n);
    lut->first = first;
    lut->bits = (int)bits;
    lut->data.assign(d, d + n);
    unsigned mask = bits >= 16 ? 0xFFFFu : ((1u << bits) - 1u);
    for (double &x : lut->data) x = (double)((unsigned)x & mask);
    return 0;
}

// JPEG 2000 transfer syntaxes: decoded here through OpenJPEG (io_j2k.h), not by DCMTK.
// Debian's DCMTK 3.6.7 does not know the High-Throughput UIDs, hence the names.
struct J2kSyntax {
    const char *uid, *name;
    bool decoded; // false: Part 2 multi-component, refused
};
const J2kSyntax kJ2k[] = {
    {"1.2.840.10008.1.2.4.90", "JPEG 2000 (Lossless only)", true},
    {"1.2.840.10008.1.2.4.91", "JPEG 2000 (Lossless or Lossy)", true},
    {"1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component (Lossless only)", false},
    {"1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component (Lossless or Lossy)", false},
    {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)", true},
    {"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)", true},
    {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000", true},
};

const J2kSyntax *jpeg2000(const char *uid)
{
    for (const J2kSyntax &j : kJ2k)
        if (strcmp(uid, j.uid) == 0) return &j;
    return nullptr;
}

// Does the file start like DICOM? "DICM" at 128, or (no preamble) a first group 0002/0008.
bool looks_like_dicom(int fd)
{
    unsigned char b[132];
    long long got = io_fs_read_full(fd, b, sizeof b);
    if (got == 132 && memcmp(b + 128, "DICM", 4) == 0) return true;
    if (got >= 8) {
        unsigned g = b[0] | (b[1] << 8);
        unsigned e = b[2] | (b[3] << 8);
        // A raw dataset without the Part 10 header: little-endian group 0008 first.
        if ((g == 0x0008 || g == 0x0002) && e < 0x0100) return true;
    }
    return false;
}

// The data dictionary's answer for the pre-scan (io_dicom_scan.h): is this tag a sequence?
int dict_is_sq(uint16_t g, uint16_t e)
{
    return DcmTag(DcmTagKey(g, e)).getEVR() == EVR_SQ;
}

struct Header {
    DcmFileFormat ff;
    DcmDataset *ds = nullptr;
    int fd = -1; // the checked file, open while DCMTK may still load from it (lazily)
    Header() = default;
    Header(const Header &) = delete;
    Header &operator=(const Header &) = delete;
    ~Header()
    {
        if (fd >= 0) close(fd);
    }
};

// Opens the file and reads the dataset; large elements (the pixels) are loaded lazily.
// The file is opened once (io_fs_open_input: regular files only, so a FIFO or /dev/zero is an
// error, not a hang), pre-scanned for nesting depth (io_dicom_scan), and DCMTK reads that same
// file through /proc/self/fd/N.
int open_file(const char *path, Header *h, wb_error *err)
{
    uint64_t size = 0;
    h->fd = io_fs_open_input(path, 0, &size, err);
    if (h->fd < 0) return -1;
    if (!looks_like_dicom(h->fd))
        return wb_err(err, WB_E_DATA, path,
                      "not a DICOM file (no 'DICM' marker at byte 128 and no DICOM dataset "
                      "at the start; %llu bytes)", (unsigned long long)size);
    register_codecs();
    if (io_dicom_scan(h->fd, size, IO_DICOM_MAX_DEPTH, dict_is_sq, path, err) != 0) return -1;
    char name[64];
    const char *open_as = io_fs_fd_name(h->fd, path, name, sizeof name);
    OFCondition c = h->ff.loadFile(OFFilename(open_as), EXS_Unknown, EGL_noChange, 4096,
                                   ERM_autoDetect);
    if (c.bad()) {
        if (c == EC_StreamNotifyClient || c == EC_InvalidStream || c == EC_ItemEnd ||
            c == EC_SequEnd || strstr(c.text(), "Premature") || strstr(c.text(), "premature"))
            return wb_err(err, WB_E_DATA, path,
                          "truncated or corrupt DICOM file (%s); the file has %llu bytes",
                          c.text(), (unsigned long long)size);
        return wb_err(err, WB_E_DATA, path, "unreadable DICOM: %s", c.text());
    }
    h->ds = h->ff.getDataset();
    if (!h->ds)
        return wb_err(err, WB_E_DATA, path, "no dataset in the file");
    return 0;
}

void fill_meta(DcmDataset *ds, DcmItem *meta_info, io_dicom_meta *m)
{
    memset(m, 0, sizeof *m);
    // Text as UTF-8 (to_utf8): the first value of Specific Character Set decides.
    std::string scs = get_str(ds, DCM_SpecificCharacterSet);
    while (!scs.empty() && scs.back() == ' ') scs.pop_back();
    while (!scs.empty() && scs.front() == ' ') scs.erase(0, 1);
    auto text = [&](DcmItem *item, const DcmTagKey &tag) { return to_utf8(get_str(item, tag), scs); };
    copy_str(m->patient_id, text(ds, DCM_PatientID));
    copy_str(m->study_uid, text(ds, DCM_StudyInstanceUID));
    copy_str(m->series_uid, text(ds, DCM_SeriesInstanceUID));
    copy_str(m->sop_uid, text(ds, DCM_SOPInstanceUID));
    copy_str(m->sop_class_uid, text(ds, DCM_SOPClassUID));
    copy_str(m->modality, text(ds, DCM_Modality));
    std::string lat = text(ds, DCM_ImageLaterality);
    if (!lat.empty()) {
        copy_str(m->laterality_source, "ImageLaterality");
    } else {
        lat = text(ds, DCM_Laterality);
        if (!lat.empty()) copy_str(m->laterality_source, "Laterality");
    }
    copy_str(m->laterality, lat);
    copy_str(m->view_position, text(ds, DCM_ViewPosition));
    copy_str(m->manufacturer, text(ds, DCM_Manufacturer));
    copy_str(m->model, text(ds, DCM_ManufacturerModelName));
    copy_str(m->photometric, text(ds, DCM_PhotometricInterpretation));
    copy_str(m->presentation_intent, text(ds, DCM_PresentationIntentType));
    copy_str(m->implant, text(ds, DCM_BreastImplantPresent));
    copy_str(m->patient_age, text(ds, DCM_PatientAge));
    long v;
    if (get_long(ds, DCM_Rows, &v)) m->rows = (int)v;
    if (get_long(ds, DCM_Columns, &v)) m->cols = (int)v;
    if (get_long(ds, DCM_BitsAllocated, &v)) m->bits_allocated = (int)v;
    if (get_long(ds, DCM_BitsStored, &v)) m->bits_stored = (int)v;
    if (get_long(ds, DCM_HighBit, &v)) m->high_bit = (int)v;
    else m->high_bit = m->bits_stored - 1;
    if (get_long(ds, DCM_PixelRepresentation, &v)) m->pixel_representation = (int)v;
    double a, b;
    if (get_double(ds, DCM_PixelSpacing, &a, 0) && get_double(ds, DCM_PixelSpacing, &b, 1)) {
        m->has_pixel_spacing = 1;
        m->pixel_spacing[0] = a;
        m->pixel_spacing[1] = b;
        copy_str(m->pixel_spacing_source, "PixelSpacing");
    } else if (get_double(ds, DCM_ImagerPixelSpacing, &a, 0) &&
               get_double(ds, DCM_ImagerPixelSpacing, &b, 1)) {
        m->has_pixel_spacing = 1;
        m->pixel_spacing[0] = a;
        m->pixel_spacing[1] = b;
        copy_str(m->pixel_spacing_source, "ImagerPixelSpacing");
    }
    m->n_windows = (int)std::min(get_vm(ds, DCM_WindowCenter), get_vm(ds, DCM_WindowWidth));
    E_TransferSyntax xfer = ds->getOriginalXfer();
    std::string ts_uid = meta_info ? get_str(meta_info, DCM_TransferSyntaxUID) : std::string();
    DcmXfer x(xfer);
    if (ts_uid.empty() && xfer != EXS_Unknown) ts_uid = x.getXferID();
    copy_str(m->transfer_syntax, ts_uid);
    if (!ts_uid.empty()) {
        DcmXfer named(ts_uid.c_str());
        const J2kSyntax *j = jpeg2000(ts_uid.c_str());
        copy_str(m->transfer_syntax_name, j ? j->name
                                            : named.getXfer() != EXS_Unknown ? named.getXferName()
                                                                             : "unknown");
    }
}

// Checks everything about the header that decides whether the pixels can be used.
int check_header(const char *path, DcmDataset *ds, const io_dicom_meta *m,
                 const io_dicom_options *opt, wb_error *err)
{
    const char *ts = m->transfer_syntax;
    const J2kSyntax *j2k = ts[0] ? jpeg2000(ts) : nullptr;
    if (j2k && !j2k->decoded)
        return wb_err(err, WB_E_DATA, path,
                      "transfer syntax %s (%s) is not supported: only JPEG 2000 Part 1 and "
                      "High-Throughput JPEG 2000 are decoded", ts, j2k->name);
    if (ts[0] && !j2k) {
        DcmXfer x(ts);
        if (x.getXfer() == EXS_Unknown)
            return wb_err(err, WB_E_DATA, path, "unknown transfer syntax %s", ts);
    }
    if (!ds->tagExists(DCM_PixelData))
        return err_tag(err, path, DCM_PixelData, "no Pixel Data in the file (not an image?)");
    long v;
    if (!get_long(ds, DCM_Rows, &v))
        return err_tag(err, path, DCM_Rows, "missing");
    if (v <= 0) return err_tag(err, path, DCM_Rows, "is 0: the image is empty");
    if (!get_long(ds, DCM_Columns, &v))
        return err_tag(err, path, DCM_Columns, "missing");
    if (v <= 0) return err_tag(err, path, DCM_Columns, "is 0: the image is empty");
    if (m->rows > opt->max_dim || m->cols > opt->max_dim ||
        (size_t)m->rows * (size_t)m->cols > opt->max_pixels)
        return err_tag(err, path, m->rows > opt->max_dim ? DCM_Rows : DCM_Columns,
                       "image too large: %d x %d pixels, the limit is %d per side and %zu in all",
                       m->rows, m->cols, opt->max_dim, opt->max_pixels);
    long spp = 1;
    if (get_long(ds, DCM_SamplesPerPixel, &spp) && spp != 1)
        return err_tag(err, path, DCM_SamplesPerPixel,
                       "is %ld: colour images are not supported, only grayscale (1 sample)", spp);
    if (strcmp(m->photometric, "MONOCHROME1") != 0 && strcmp(m->photometric, "MONOCHROME2") != 0)
        return err_tag(err, path, DCM_PhotometricInterpretation,
                       "is '%s': only MONOCHROME1 and MONOCHROME2 are supported", m->photometric);
    long frames = 1;
    if (ds->tagExists(DCM_NumberOfFrames)) {
        if (!get_long(ds, DCM_NumberOfFrames, &frames))
            return err_tag(err, path, DCM_NumberOfFrames, "unreadable value");
        if (frames != 1)
            return err_tag(err, path, DCM_NumberOfFrames,
                           "%ld frames: only single-frame images are supported", frames);
    }
    if (m->bits_allocated != 8 && m->bits_allocated != 16)
        return err_tag(err, path, DCM_BitsAllocated, "is %d: only 8 and 16 are supported",
                       m->bits_allocated);
    if (m->bits_stored < 1 || m->bits_stored > m->bits_allocated)
        return err_tag(err, path, DCM_BitsStored, "is %d with Bits Allocated %d",
                       m->bits_stored, m->bits_allocated);
    if (m->high_bit < m->bits_stored - 1 || m->high_bit >= m->bits_allocated)
        return err_tag(err, path, DCM_HighBit, "is %d with Bits Stored %d and Bits Allocated %d",
                       m->high_bit, m->bits_stored, m->bits_allocated);
    if (m->pixel_representation != 0 && m->pixel_representation != 1)
        return err_tag(err, path, DCM_PixelRepresentation, "is %d, expected 0 or 1",
                       m->pixel_representation);
    return 0;
}

// The stored pixel values, read in place from DCMTK's buffer: code(i) is pixel i's stored value
// (shifted and masked, 0..mask), a table index. Every later step depends on the stored value
// only, so it runs once per possible value (at most 65536) instead of once per pixel.
struct Stored {
    const Uint16 *p16 = nullptr;
    const Uint8 *p8 = nullptr;
    bool ob16 = false; // 16-bit values in an OB element
    int shift = 0;
    unsigned mask = 0;
    size_t n = 0;
    std::vector<Uint16> owned; // decoded here (JPEG 2000): p16 points into it
    unsigned code(size_t i) const
    {
        unsigned raw = p16 ? p16[i] : ob16 ? (unsigned)(p8[2 * i] | (p8[2 * i + 1] << 8)) : p8[i];
        return (raw >> shift) & mask;
    }
};

// The encapsulated frame of a single-frame image: its fragments (after the Basic Offset
// Table item); one fragment is used in place, several are joined into *joined. DCMTK has
// parsed the items; their lengths are bounded by the file.
int frame_bytes(const char *path, DcmDataset *ds, const char *codec, const Uint8 **data, size_t *size,
                std::vector<Uint8> *joined, wb_error *err)
{
    DcmElement *el = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
        return err_tag(err, path, DCM_PixelData, "no Pixel Data in the file");
    DcmPixelData *pd = dynamic_cast<DcmPixelData *>(el);
    if (!pd) return err_tag(err, path, DCM_PixelData, "not encapsulated pixel data");
    OFCondition c = pd->loadAllDataIntoMemory();
    if (c.bad())
        return err_tag(err, path, DCM_PixelData, "pixel data truncated or unreadable: %s", c.text());
    E_TransferSyntax rep = EXS_Unknown;
    const DcmRepresentationParameter *param = nullptr;
    pd->getOriginalRepresentationKey(rep, param);
    DcmPixelSequence *seq = nullptr;
    c = pd->getEncapsulatedRepresentation(rep, param, seq);
    if (c.bad() || !seq)
        return err_tag(err, path, DCM_PixelData,
                       "the transfer syntax is %s but the pixel data is not encapsulated "
                       "(no sequence of fragments)", codec);
    const unsigned long items = seq->card();
    if (items < 2)
        return err_tag(err, path, DCM_PixelData, "no %s fragment after the offset table", codec);
    *data = nullptr;
    *size = 0;
    for (unsigned long k = 1; k < items; k++) {
        DcmPixelItem *it = nullptr;
        if (seq->getItem(it, k).bad() || !it)
            return err_tag(err, path, DCM_PixelData, "fragment %lu unreadable", k);
        Uint8 *b = nullptr;
        const Uint32 len = it->getLength();
        if (len == 0) continue;
        if (it->getUint8Array(b).bad() || !b)
            return err_tag(err, path, DCM_PixelData, "fragment %lu unreadable", k);
        if (!*data) {
            *data = b;
            *size = len;
            continue;
        }
        if (joined->empty()) joined->assign(*data, *data + *size);
        joined->insert(joined->end(), b, b + len);
        *data = joined->data();
        *size = joined->size();
    }
    return 0;
}

// The JPEG (ITU-T T.81) transfer syntaxes DCMTK decodes: baseline, extended, lossless.
bool jpeg_itu(const char *uid)
{
    static const char *const uids[] = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                                       "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"};
    for (const char *u : uids)
        if (strcmp(uid, u) == 0) return true;
    return false;
}

// DCMTK decodes a JPEG frame into a buffer of the header's size and leaves what the stream
// does not fill at zero, so a frame header that disagrees with Rows or Columns gave an image
// that was mostly zeros, accepted. The frame header (SOFn) is found by walking the marker
// segments, each length checked against the frame, and compared with the DICOM header.
int check_jpeg_frame(const char *path, DcmDataset *ds, const io_dicom_meta *m, wb_error *err)
{
    const Uint8 *b = nullptr;
    size_t n = 0;
    std::vector<Uint8> joined;
    if (frame_bytes(path, ds, "JPEG", &b, &n, &joined, err) != 0) return -1;
    if (!b || n < 4 || b[0] != 0xFF || b[1] != 0xD8)
        return err_tag(err, path, DCM_PixelData,
                       "the JPEG frame does not start with an SOI marker (FF D8): not a JPEG stream");
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF)
            return err_tag(err, path, DCM_PixelData, "JPEG stream: no marker at byte %zu of the frame", i);
        const unsigned mk = b[i + 1];
        if (mk == 0xFF) { // fill byte
            i++;
            continue;
        }
        if (mk == 0xD9 || mk == 0xDA) break; // EOI or a scan before any frame header
        if (mk == 0x01 || (mk >= 0xD0 && mk <= 0xD7)) { // markers without a length
            i += 2;
            continue;
        }
        const size_t len = (size_t)b[i + 2] << 8 | b[i + 3];
        if (len < 2 || len > n - i - 2)
            return err_tag(err, path, DCM_PixelData,
                           "JPEG stream: the marker segment FF %02X at byte %zu of the frame runs past its end "
                           "(%zu bytes)", mk, i, n);
        const bool sof = mk >= 0xC0 && mk <= 0xCF && mk != 0xC4 && mk != 0xC8 && mk != 0xCC;
        if (!sof) {
            i += 2 + len;
            continue;
        }
        if (len < 8)
            return err_tag(err, path, DCM_PixelData, "JPEG stream: frame header (FF %02X) of %zu bytes is too short",
                           mk, len);
        const unsigned prec = b[i + 4], y = (unsigned)b[i + 5] << 8 | b[i + 6];
        const unsigned x = (unsigned)b[i + 7] << 8 | b[i + 8], nf = b[i + 9];
        if (nf != 1)
            return err_tag(err, path, DCM_SamplesPerPixel, "is 1 but the JPEG frame has %u components", nf);
        // y 0: the height comes in a DNL marker after the first scan (DCMTK checks the size then)
        if ((y != 0 && y != (unsigned)m->rows) || x != (unsigned)m->cols)
            return err_tag(err, path, y != 0 && y != (unsigned)m->rows ? DCM_Rows : DCM_Columns,
                           "the header says %d x %d (columns x rows) but the JPEG frame is %u x %u", m->cols,
                           m->rows, x, y);
        if (prec > (unsigned)m->bits_allocated)
            return err_tag(err, path, DCM_BitsAllocated, "is %d but the JPEG frame has %u-bit samples",
                           m->bits_allocated, prec);
        return 0;
    }
    return err_tag(err, path, DCM_PixelData, "JPEG stream: no frame header (SOF marker) before the first scan");
}

// RLE (PS3.5 Annex G): a 64-byte header (the number of segments, then 15 offsets), then one
// PackBits segment per byte of a sample, each decoding to Rows x Columns bytes (one more is a
// pad byte some encoders write). DCMTK said "Pixel representation cannot be changed" for a
// header or an offset that does not fit, and read a segment that decodes to more or fewer bytes
// than the header's pixels (a wrong Rows, a cut frame) as a shifted or zero-filled image. The
// header and every segment are walked here first, without decoding into memory.
int check_rle_frame(const char *path, DcmDataset *ds, const io_dicom_meta *m, wb_error *err)
{
    const Uint8 *b = nullptr;
    size_t n = 0;
    std::vector<Uint8> joined;
    if (frame_bytes(path, ds, "RLE", &b, &n, &joined, err) != 0) return -1;
    if (!b || n < 64)
        return err_tag(err, path, DCM_PixelData, "the RLE frame has %zu bytes, less than its 64-byte header", b ? n : 0);
    auto u32 = [b](size_t at) {
        return (size_t)b[at] | (size_t)b[at + 1] << 8 | (size_t)b[at + 2] << 16 | (size_t)b[at + 3] << 24;
    };
    const size_t nseg = u32(0), want = (size_t)m->bits_allocated / 8;
    if (nseg != want)
        return err_tag(err, path, DCM_BitsAllocated,
                       "is %d, so the RLE frame needs %zu segment%s (one per byte of a sample), but its header gives %zu",
                       m->bits_allocated, want, want == 1 ? "" : "s", nseg);
    const size_t need = (size_t)m->rows * (size_t)m->cols;
    for (size_t k = 0; k < nseg; k++) {
        const size_t start = u32(4 + 4 * k), end = k + 1 < nseg ? u32(8 + 4 * k) : n;
        if (start < 64 || start >= n || (k == 0 && start != 64))
            return err_tag(err, path, DCM_PixelData, "RLE segment %zu starts at byte %zu, %s", k + 1, start,
                           start >= n ? "past the end of the frame" : "inside the 64-byte header");
        if (end <= start || end > n)
            return err_tag(err, path, DCM_PixelData, "RLE segment %zu starts at byte %zu, past the end of the %zu-byte frame",
                           k + 2, end, n);
        // PackBits: c < 128 copies c + 1 bytes, c > 128 repeats the next byte 257 - c times,
        // 128 does nothing. Input left over once the pixels are complete is padding.
        size_t out = 0, i = start;
        while (i < end) {
            const unsigned c = b[i++];
            const size_t take = c < 128 ? c + 1 : c > 128 ? 1 : 0, put = c < 128 ? c + 1 : c > 128 ? 257 - c : 0;
            if (take > end - i) {
                if (out >= need) break;
                return err_tag(err, path, DCM_PixelData,
                               "RLE segment %zu is cut short: a run at byte %zu of the frame needs %zu bytes, %zu are left "
                               "(%zu of the %zu bytes decoded)", k + 1, i - 1, take, end - i, out, need);
            }
            i += take;
            out += put;
        }
        if (out < need || out > need + 1)
            return err_tag(err, path, DCM_PixelData, "RLE segment %zu decodes to %zu bytes, the header's %d x %d pixels need %zu",
                           k + 1, out, m->cols, m->rows, need);
    }
    return 0;
}

// JPEG 2000 (io_j2k.h): the codestream is checked against Rows, Columns, Samples per Pixel and
// Bits Allocated before decoding; every decoded value must then be a stored value that Bits
// Stored and Pixel Representation allow. Unsigned JPEG 2000 data in a file that says Pixel
// Representation 1 is read as Bits Stored two's complement, as pydicom and GDCM do. Lossy
// codestreams of a higher precision than Bits Stored (GDCM writes 16-bit ones for 12-bit
// data) overshoot the range by a little at edges: under the syntaxes that allow lossy
// coding those values are clamped to the Bits Stored range; in a lossless one they are an error.
int read_j2k(const char *path, DcmDataset *ds, const io_dicom_meta *m, Stored *st, wb_error *err)
{
    std::vector<Uint8> joined;
    const Uint8 *cs = nullptr;
    size_t cs_len = 0;
    if (frame_bytes(path, ds, "JPEG 2000", &cs, &cs_len, &joined, err) != 0) return -1;
    if (!cs) return err_tag(err, path, DCM_PixelData, "the JPEG 2000 fragments are empty");
    io_j2k_expect want = {m->cols, m->rows, 1, m->bits_allocated};
    io_j2k_image j;
    if (io_j2k_decode(path, cs, cs_len, &want, &j, err) != 0) return -1;
    struct Guard {
        io_j2k_image *j;
        ~Guard() { io_j2k_image_free(j); }
    } guard{&j};
    const int bs = m->bits_stored;
    if (j.sgnd && m->pixel_representation == 0)
        return err_tag(err, path, DCM_PixelRepresentation,
                       "is 0 (unsigned) but the JPEG 2000 codestream holds signed samples");
    if (!j.sgnd && m->pixel_representation == 1 && j.prec > bs)
        return err_tag(err, path, DCM_BitsStored,
                       "is %d but the JPEG 2000 codestream holds unsigned %d-bit samples "
                       "(and Pixel Representation is 1)", bs, j.prec);
    const size_t n = (size_t)m->rows * (size_t)m->cols;
    const unsigned mask = bs >= 16 ? 0xFFFFu : ((1u << bs) - 1u);
    long lo = 0, hi = (long)mask;
    if (j.sgnd) {
        lo = -(1L << (bs - 1));
        hi = (1L << (bs - 1)) - 1;
    }
    const char *ts = m->transfer_syntax;
    const bool lossy = !strcmp(ts, "1.2.840.10008.1.2.4.91") || !strcmp(ts, "1.2.840.10008.1.2.4.203");
    st->owned.resize(n);
    for (size_t i = 0; i < n; i++) {
        long v = j.samples[i];
        if (lossy && j.prec > bs) v = v < lo ? lo : v > hi ? hi : v;
        if (v < lo || v > hi)
            return err_tag(err, path, DCM_BitsStored,
                           "is %d but the JPEG 2000 data (%s %d-bit) has the value %ld at row %zu, "
                           "column %zu", bs, j.sgnd ? "signed" : "unsigned", j.prec, v,
                           i / (size_t)m->cols, i % (size_t)m->cols);
        st->owned[i] = (Uint16)((unsigned long)v & mask);
    }
    st->p16 = st->owned.data();
    st->shift = 0;
    st->mask = mask;
    st->n = n;
    return 0;
}

// The uncompressed (or DCMTK-decompressed) pixel data, read in place.
int read_native(const char *path, DcmDataset *ds, const io_dicom_meta *m, Stored *st,
                wb_error *err)
{
    if (jpeg_itu(m->transfer_syntax) && check_jpeg_frame(path, ds, m, err) != 0) return -1;
    if (!strcmp(m->transfer_syntax, "1.2.840.10008.1.2.5") && check_rle_frame(path, ds, m, err) != 0) return -1;
    OFCondition c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (c.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
        return wb_err(err, WB_E_DATA, path, "cannot decode pixel data in transfer syntax %s (%s): %s",
                      m->transfer_syntax, m->transfer_syntax_name,
                      c.bad() ? c.text() : "no decoder");
    DcmElement *el = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
        return err_tag(err, path, DCM_PixelData, "no Pixel Data in the file");
    c = el->loadAllDataIntoMemory();
    if (c.bad())
        return err_tag(err, path, DCM_PixelData, "pixel data truncated or unreadable: %s", c.text());
    const size_t n = (size_t)m->rows * (size_t)m->cols;
    const size_t bytes_per = m->bits_allocated / 8;
    const Uint32 len = el->getLength();
    const size_t need = n * bytes_per;
    if ((size_t)len < need)
        return err_tag(err, path, DCM_PixelData,
                       "pixel data too short: %lu bytes for %d x %d pixels of %d bits",
                       (unsigned long)len, m->rows, m->cols, m->bits_allocated);
    // Longer: a pad byte to an even length is the standard's; other trailing bytes (some
    // writers leave them) are ignored with a warning; a whole frame more or longer is refused,
    // as the header says one frame (docs/dicom.md, "Pixel Data longer than the image").
    const size_t extra = (size_t)len - need;
    const bool pad = extra == 1 && need % 2 == 1; // also for a 1-pixel image
    if (!pad && extra >= need)
        return err_tag(err, path, DCM_PixelData,
                       "%lu bytes where %d x %d pixels of %d bits need %zu: %zu frames' worth, but the file says it "
                       "has one frame (a multi-frame image with a wrong Number of Frames, or a wrong Rows/Columns?)",
                       (unsigned long)len, m->cols, m->rows, m->bits_allocated, need, (size_t)len / need);
    if (!pad && extra > 0)
        wb_warn("%s: (7FE0,0010) Pixel Data has %lu bytes, %zu more than the %d x %d pixels of %d bits need (%zu): "
                "the trailing bytes are ignored", path, (unsigned long)len, extra, m->cols, m->rows,
                m->bits_allocated, need);
    st->n = n;
    st->shift = m->high_bit + 1 - m->bits_stored;
    st->mask = m->bits_stored >= 16 ? 0xFFFFu : ((1u << m->bits_stored) - 1u);
    if (bytes_per == 2) {
        Uint16 *p = nullptr;
        if (el->getUint16Array(p).bad() || !p) {
            Uint8 *b = nullptr; // OB-encoded 16-bit data
            if (el->getUint8Array(b).bad() || !b)
                return err_tag(err, path, DCM_PixelData, "pixel data unreadable");
            st->p8 = b;
            st->ob16 = true;
        } else {
            st->p16 = p;
        }
    } else {
        Uint8 *b = nullptr;
        if (el->getUint8Array(b).bad() || !b)
            return err_tag(err, path, DCM_PixelData, "pixel data unreadable");
        st->p8 = b;
    }
    return 0;
}

// The stored values, whatever the transfer syntax, and the value of every possible code.
int read_stored(const char *path, DcmDataset *ds, const io_dicom_meta *m, Stored *st,
                std::vector<double> *out, wb_error *err)
{
    const int rc = jpeg2000(m->transfer_syntax) ? read_j2k(path, ds, m, st, err)
                                                : read_native(path, ds, m, st, err);
    if (rc != 0) return -1;
    const unsigned sign = 1u << (m->bits_stored - 1);
    out->resize((size_t)st->mask + 1);
    for (unsigned u = 0; u <= st->mask; u++)
        (*out)[u] = m->pixel_representation == 1 && (u & sign) ? (double)((long)u - (long)(st->mask + 1))
                                                               : (double)u;
    return 0;
}

// v: the value of each stored code (read_stored); transformed in place, then mapped to pixels.
int transform(const char *path, DcmDataset *ds, const io_dicom_options *opt, io_dicom_meta *m,
              const Stored &st, std::vector<double> &v, io_dicom_image *img, wb_error *err)
{
    const size_t n = st.n, ncode = v.size();
    const int b = m->bits_stored;
    double smin = m->pixel_representation ? -std::ldexp(1.0, b - 1) : 0.0;
    double smax = m->pixel_representation ? std::ldexp(1.0, b - 1) - 1 : std::ldexp(1.0, b) - 1;

    // Padding is decided on stored values, before any LUT.
    std::vector<unsigned char> pad;
    long pv;
    if (get_long(ds, DCM_PixelPaddingValue, &pv)) {
        long lim = pv;
        get_long(ds, DCM_PixelPaddingRangeLimit, &lim);
        double lo = (double)std::min(pv, lim), hi = (double)std::max(pv, lim);
        pad.assign(ncode, 0);
        for (size_t k = 0; k < ncode; k++)
            if (v[k] >= lo && v[k] <= hi) pad[k] = 1;
    }

    // Modality LUT.
    double mod_lo, mod_hi;
    double slope = 1.0, intercept = 0.0;
    DcmItem *mlut_item = nullptr;
    if (ds->findAndGetSequenceItem(DCM_ModalityLUTSequence, mlut_item, 0).good() && mlut_item) {
        Lut lut;
        if (read_lut(mlut_item, path, DCM_ModalityLUTSequence, &lut, err) != 0) return -1;
        mod_lo = mod_hi = lut.data[0];
        for (double x : lut.data) { mod_lo = std::min(mod_lo, x); mod_hi = std::max(mod_hi, x); }
        for (double &x : v) x = lut.lookup(x);
    } else {
        if (ds->tagExists(DCM_RescaleSlope) && !get_double(ds, DCM_RescaleSlope, &slope))
            return err_tag(err, path, DCM_RescaleSlope, "unreadable value");
        if (ds->tagExists(DCM_RescaleIntercept) && !get_double(ds, DCM_RescaleIntercept, &intercept))
            return err_tag(err, path, DCM_RescaleIntercept, "unreadable value");
        if (slope == 0.0) return err_tag(err, path, DCM_RescaleSlope, "is 0");
        double a = smin * slope + intercept, c = smax * slope + intercept;
        mod_lo = std::min(a, c);
        mod_hi = std::max(a, c);
        if (slope != 1.0 || intercept != 0.0)
            for (double &x : v) x = x * slope + intercept;
    }
    const bool mono1 = strcmp(m->photometric, "MONOCHROME1") == 0;
    float lo_out, hi_out;

    if (opt->voi == IO_VOI_IGNORE) {
        copy_str(m->voi_source, "ignored");
        if (mono1)
            for (double &x : v) x = (mod_lo + mod_hi) - x;
        lo_out = (float)mod_lo;
        hi_out = (float)mod_hi;
    } else {
        DcmItem *voi_item = nullptr;
        const bool has_window = m->n_windows > 0;
        if (has_window) {
            int idx = opt->window_index < m->n_windows ? opt->window_index : 0;
            double c = 0, w = 0;
            if (!get_double(ds, DCM_WindowCenter, &c, (unsigned long)idx))
                return err_tag(err, path, DCM_WindowCenter, "unreadable value %d", idx + 1);
            if (!get_double(ds, DCM_WindowWidth, &w, (unsigned long)idx))
                return err_tag(err, path, DCM_WindowWidth, "unreadable value %d", idx + 1);
            std::string fn = get_str(ds, DCM_VOILUTFunction);
            if (fn.empty()) fn = "LINEAR";
            copy_str(m->voi_function, fn);
            m->window_center = c;
            m->window_width = w;
            // Output range of the window: the stored range through the rescale, as pydicom does.
            const double y_min = mod_lo, y_range = mod_hi - mod_lo;
            if (fn == "LINEAR" || fn == "LINEAR_EXACT") {
                if (fn == "LINEAR") {
                    if (w < 1) return err_tag(err, path, DCM_WindowWidth, "is %g: LINEAR needs >= 1", w);
                    c -= 0.5;
                    w -= 1;
                } else if (w <= 0) {
                    return err_tag(err, path, DCM_WindowWidth, "is %g: LINEAR_EXACT needs > 0", w);
                }
                for (double &x : v) {
                    double y;
                    if (x <= c - w / 2) y = y_min;
                    else if (x > c + w / 2) y = y_min + y_range;
                    else y = ((x - c) / w + 0.5) * y_range + y_min;
                    x = (y - y_min) / y_range;
                }
            } else if (fn == "SIGMOID") {
                if (w <= 0) return err_tag(err, path, DCM_WindowWidth, "is %g: SIGMOID needs > 0", w);
                for (double &x : v) x = 1.0 / (1.0 + std::exp(-4.0 * (x - c) / w));
            } else {
                return err_tag(err, path, DCM_VOILUTFunction,
                               "is '%s': expected LINEAR, LINEAR_EXACT or SIGMOID", fn.c_str());
            }
            copy_str(m->voi_source, "window");
        } else if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, voi_item, 0).good() && voi_item) {
            Lut lut;
            if (read_lut(voi_item, path, DCM_VOILUTSequence, &lut, err) != 0) return -1;
            const double scale = std::ldexp(1.0, lut.bits) - 1;
            for (double &x : v) x = lut.lookup(x) / scale;
            copy_str(m->voi_source, "voi_lut_sequence");
        } else {
            const double r = mod_hi > mod_lo ? mod_hi - mod_lo : 1.0;
            for (double &x : v) x = (x - mod_lo) / r;
            copy_str(m->voi_source, "none");
        }
        if (mono1)
            for (double &x : v) x = 1.0 - x;
        lo_out = 0.0f;
        hi_out = 1.0f;
    }

    std::vector<float> table(ncode);
    for (size_t k = 0; k < ncode; k++) table[k] = pad.empty() || !pad[k] ? (float)v[k] : lo_out;
    // A huge Rescale Slope or Intercept (1e308) overflows: refuse it rather than hand out
    // infinities (statistics would be null, training NaN).
    bool finite = std::isfinite(lo_out) && std::isfinite(hi_out) && std::isfinite(mod_hi - mod_lo);
    for (size_t k = 0; finite && k < ncode; k++) finite = std::isfinite(table[k]);
    if (!finite) {
        const bool by_intercept = slope == 1.0 || std::fabs(intercept) > 3.4e38;
        return err_tag(err, path, by_intercept ? DCM_RescaleIntercept : DCM_RescaleSlope,
                       "is %g (Rescale Slope %g, Rescale Intercept %g): the pixel values after "
                       "the modality transform are not finite (beyond 32-bit float range)",
                       by_intercept ? intercept : slope, slope, intercept);
    }
    // A full-size mammogram is 50 MB of floats: ask for transparent huge pages (2 MB each) so
    // that writing it takes ~25 page faults instead of ~13000 (THP is "madvise" on Debian).
    const size_t bytes = n * sizeof(float), huge = (size_t)1 << 21;
    float *px = nullptr;
    if (bytes >= 4 * huge) {
        px = (float *)aligned_alloc(huge, (bytes + huge - 1) / huge * huge);
        if (px) madvise(px, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
    } else {
        px = (float *)malloc(bytes);
    }
    if (!px) return wb_err(err, WB_E_NOMEM, path, "out of memory for %zu pixels", n);
    const float *t = table.data();
    if (st.p16) {
        const Uint16 *p = st.p16;
        const int sh = st.shift;
        const unsigned mk = st.mask;
        for (size_t i = 0; i < n; i++) px[i] = t[(p[i] >> sh) & mk];
    } else {
        for (size_t i = 0; i < n; i++) px[i] = t[st.code(i)];
    }
    if (!pad.empty())
        for (size_t i = 0; i < n; i++) m->n_padding += pad[st.code(i)];
    img->pixels = px;
    img->rows = m->rows;
    img->cols = m->cols;
    img->range_lo = lo_out;
    img->range_hi = hi_out;
    return 0;
}

int read_impl(const char *path, const io_dicom_options *opt, io_dicom_image *img, bool pixels,
              io_dicom_meta *meta_out, wb_error *err)
{
    Header h;
    if (open_file(path, &h, err) != 0) return -1;
    io_dicom_meta m;
    fill_meta(h.ds, h.ff.getMetaInfo(), &m);
    if (!pixels) {
        *meta_out = m;
        return 0;
    }
    if (check_header(path, h.ds, &m, opt, err) != 0) return -1;
    std::vector<double> v;
    Stored st;
    if (read_stored(path, h.ds, &m, &st, &v, err) != 0) return -1;
    if (transform(path, h.ds, opt, &m, st, v, img, err) != 0) return -1;
    img->meta = m;
    return 0;
}

} // namespace

extern "C" {

void io_dicom_options_default(io_dicom_options *opt)
{
    opt->voi = IO_VOI_APPLY;
    opt->window_index = 0;
    opt->max_dim = 16384;
    opt->max_pixels = (size_t)1 << 27;
}

int io_dicom_read(const char *path, const io_dicom_options *opt, io_dicom_image *img, wb_error *err)
{
    memset(img, 0, sizeof *img);
    io_dicom_options def;
    if (!opt) {
        io_dicom_options_default(&def);
        opt = &def;
    }
    try {
        if (read_impl(path, opt, img, true, nullptr, err) == 0) return 0;
    } catch (const std::bad_alloc &) {
        wb_err(err, WB_E_NOMEM, path, "out of memory while decoding");
    } catch (const std::exception &e) {
        wb_err(err, WB_E_DATA, path, "decoding failed: %s", e.what());
    } catch (...) {
        wb_err(err, WB_E_DATA, path, "decoding failed (unknown exception in DCMTK)");
    }
    io_dicom_image_free(img);
    return -1;
}

int io_dicom_read_meta(const char *path, io_dicom_meta *meta, wb_error *err)
{
    memset(meta, 0, sizeof *meta);
    try {
        return read_impl(path, nullptr, nullptr, false, meta, err);
    } catch (...) {
        return wb_err(err, WB_E_DATA, path, "reading the header failed (exception in DCMTK)");
    }
}

void io_dicom_image_free(io_dicom_image *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

int io_dicom_write(const char *path, const char *const *attrs, size_t n_attrs,
                   const uint16_t *pixels, int rows, int cols, int bits_stored, io_dicom_ts ts,
                   wb_error *err)
{
    if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535 || bits_stored < 8 || bits_stored > 16)
        return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: bad geometry %dx%d, %d bits",
                      rows, cols, bits_stored);
    try {
        register_codecs();
        DcmFileFormat ff;
        DcmDataset *ds = ff.getDataset();
        for (size_t i = 0; i < n_attrs; i++) {
            std::string a(attrs[i]);
            size_t eq = a.find('=');
            std::string p = a.substr(0, eq);
            DcmPathProcessor proc;
            OFCondition c = proc.findOrCreatePath(ds, p.c_str(), OFTrue);
            if (c.bad())
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: attribute '%s': %s",
                              attrs[i], c.text());
            if (eq == std::string::npos) continue;
            OFList<DcmPath *> results;
            proc.getResults(results);
            if (results.empty())
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: no element for '%s'", attrs[i]);
            DcmObject *obj = results.front()->back()->m_obj;
            if (!obj || !obj->isLeaf())
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: '%s' is not an element", attrs[i]);
            c = static_cast<DcmElement *>(obj)->putString(a.substr(eq + 1).c_str());
            if (c.bad())
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: value of '%s': %s", attrs[i],
                              c.text());
        }
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertUint16(DCM_Rows, (Uint16)rows);
        ds->putAndInsertUint16(DCM_Columns, (Uint16)cols);
        ds->putAndInsertUint16(DCM_BitsAllocated, 16);
        ds->putAndInsertUint16(DCM_BitsStored, (Uint16)bits_stored);
        ds->putAndInsertUint16(DCM_HighBit, (Uint16)(bits_stored - 1));
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        OFCondition c = ds->putAndInsertUint16Array(DCM_PixelData, pixels,
                                                    (unsigned long)rows * (unsigned long)cols);
        if (c.bad()) return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: pixel data: %s", c.text());

        E_TransferSyntax xfer = EXS_LittleEndianExplicit;
        if (ts == IO_DICOM_TS_JPEG_LOSSLESS_SV1) {
            DJ_RPLossless rp(1, 0);
            xfer = EXS_JPEGProcess14SV1;
            c = ds->chooseRepresentation(xfer, &rp);
        } else if (ts == IO_DICOM_TS_JPEGLS_LOSSLESS) {
            DJLSRepresentationParameter rp(2, OFTrue);
            xfer = EXS_JPEGLSLossless;
            c = ds->chooseRepresentation(xfer, &rp);
        } else if (ts == IO_DICOM_TS_RLE) {
            xfer = EXS_RLELossless;
            c = ds->chooseRepresentation(xfer, nullptr);
        } else if (ts == IO_DICOM_TS_JPEG2000_LOSSLESS) {
            // DCMTK has no JPEG 2000 encoder: OpenJPEG makes the codestream, DCMTK wraps it
            // as one fragment after an empty Basic Offset Table.
            uint8_t *cs = nullptr;
            size_t cs_len = 0;
            if (io_j2k_encode_lossless(path, pixels, cols, rows, bits_stored, &cs, &cs_len, err) != 0)
                return -1;
            std::unique_ptr<uint8_t, decltype(&free)> cs_owner(cs, &free);
            if (cs_len > 0xFFFFFFF0u)
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: codestream too large");
            xfer = EXS_JPEG2000LosslessOnly;
            DcmPixelSequence *seq = new DcmPixelSequence(DcmTag(DCM_PixelSequenceTag, EVR_OB));
            seq->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));
            DcmOffsetList offsets;
            c = seq->storeCompressedFrame(offsets, cs, (Uint32)cs_len, 0);
            DcmElement *el = nullptr;
            DcmPixelData *pd = nullptr;
            if (c.good() && ds->findAndGetElement(DCM_PixelData, el).good())
                pd = dynamic_cast<DcmPixelData *>(el);
            if (!pd) {
                delete seq;
                return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: cannot store the JPEG 2000 "
                              "frame: %s", c.bad() ? c.text() : "no pixel data element");
            }
            pd->putOriginalRepresentation(xfer, nullptr, seq); // pd owns seq now
            ds->putAndInsertString(DCM_LossyImageCompression, "00");
        }
        if (c.bad() || !ds->canWriteXfer(xfer))
            return wb_err(err, WB_E_INTERNAL, path, "io_dicom_write: cannot encode as %s: %s",
                          DcmXfer(xfer).getXferName(), c.bad() ? c.text() : "no encoder");

        // a temporary file of this process, fsynced and renamed into place (io_fs_publish)
        std::vector<char> tmpbuf(std::strlen(path) + 128);
        if (!io_fs_tmp_name(path, tmpbuf.data(), tmpbuf.size()))
            return wb_err(err, WB_E_WRITE, path, "path too long");
        std::string tmp(tmpbuf.data());
        if (io_fs_fault_point("create", tmp.c_str()) != 0)
            return wb_err(err, WB_E_WRITE, path, "cannot create: %s", strerror(errno));
        c = ff.saveFile(tmp.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                        EWM_fileformat);
        if (c.bad()) {
            unlink(tmp.c_str());
            return wb_err(err, WB_E_WRITE, path, "cannot write: %s", c.text());
        }
        return io_fs_publish(tmp.c_str(), path, err);
    } catch (const std::bad_alloc &) {
        return wb_err(err, WB_E_NOMEM, path, "out of memory while writing");
    } catch (...) {
        return wb_err(err, WB_E_INTERNAL, path, "exception in DCMTK while writing");
    }
}

int io_dicom_is_candidate(const char *path)
{
    int fd = io_fs_open_input(path, 0, nullptr, nullptr); // regular files only
    if (fd >= 0) {
        unsigned char b[132];
        long long got = io_fs_read_full(fd, b, sizeof b);
        close(fd);
        if (got == 132 && memcmp(b + 128, "DICM", 4) == 0) return 1;
    }
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".dcm") == 0 || strcasecmp(dot, ".dicom") == 0);
}

const char *io_dicom_dcmtk_version(void) { return OFFIS_DCMTK_VERSION_STRING; }

const char *io_dicom_openjpeg_version(void) { return io_j2k_openjpeg_version(); }

} // extern "C"
