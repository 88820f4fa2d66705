#!/usr/bin/python3
"""Fixtures for io_xlsx (tests/io/test_xlsx.c and cli.import's CMMD workbook). Run once with
Debian's python3-openpyxl; the outputs are committed:

  tests/io/data/xlsx/openpyxl.xlsx     written by openpyxl (shared strings, numbers, a bool,
                                       an empty cell, a gap row, a second sheet that must be
                                       ignored); openpyxl.expected.csv: its cells as CSV
  tests/io/data/xlsx/edge.xlsx         hand-written parts: inline strings, rich-text runs, a
                                       phonetic run to skip, cells without r=, a formula's
                                       cached value, a line break, a comma and a quote;
                                       edge.expected.csv
  tests/cli/data/import/cmmd/CMMD_clinicaldata_revision.xlsx   the CMMD fixture CSV as the
                                       dataset ships it (one sheet, Age and number as numbers)
"""
import csv, io, os, zipfile
import openpyxl

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "data", "xlsx")
os.makedirs(out, exist_ok=True)

# 1. openpyxl's own writer
rows = [["patient", "age", "label", "note", "checked"],
        ["P1", 44, "Malignant", "mass, 12 mm", True],
        ["P2", 61.5, "Benign", None, False],
        None,                                   # a gap row: absent from the sheet
        ["P3", 50, 'say "no"', "x", None]]
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "clinical"
for r, row in enumerate(rows, 1):
    if row is None:
        continue
    for c, v in enumerate(row, 1):
        if v is not None:
            ws.cell(row=r, column=c, value=v)
wb.create_sheet("other").cell(row=1, column=1, value="not this sheet")
wb.save(os.path.join(out, "openpyxl.xlsx"))
with open(os.path.join(out, "openpyxl.expected.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    for row in rows:
        if row is None:
            continue
        w.writerow(["" if v is None else ("TRUE" if v is True else "FALSE" if v is False else v) for v in row])

# 2. hand-written parts
ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
rns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
parts = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    "xl/workbook.xml": f'<?xml version="1.0"?><workbook {ns} {rns}><sheets>'
                       '<sheet name="first" sheetId="7" r:id="rId9"/><sheet name="second" sheetId="1" r:id="rId1"/>'
                       '</sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships '
                                  'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                  '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/>'
                                  '<Relationship Id="rId9" Type="worksheet" Target="/xl/worksheets/sheetA.xml"/>'
                                  '</Relationships>',
    "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst {ns} count="4" uniqueCount="4">'
                            '<si><t>ID1</t></si>'
                            '<si><r><t>Left</t></r><r><rPr><b/></rPr><t>Right</t></r></si>'
                            '<si><t>kanji</t><rPh sb="0" eb="1"><t>KANA</t></rPh></si>'
                            '<si><t xml:space="preserve">two\nlines</t></si></sst>',
    "xl/worksheets/sheetA.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData>'
                                '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c>'
                                '<c r="C2" t="inlineStr"><is><t>value</t></is></c></row>'
                                '<row r="3"><c t="inlineStr"><is><r><t>D1-</t></r><r><t>0001</t></r></is></c>'
                                '<c t="s"><v>2</v></c><c><f>1+1</f><v>2</v></c></row>'
                                '<row r="5"><c r="B5" t="s"><v>3</v></c><c r="C5" t="str"><v>a, "b"</v></c></row>'
                                '</sheetData></worksheet>',
    "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData>'
                                '<row r="1"><c r="A1" t="inlineStr"><is><t>wrong sheet</t></is></c></row>'
                                '</sheetData></worksheet>',
}
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    for name, text in parts.items():
        # the sheet stored, the rest deflated: both member kinds
        z.writestr(name, text, zipfile.ZIP_STORED if name.endswith("sheetA.xml") else zipfile.ZIP_DEFLATED)
open(os.path.join(out, "edge.xlsx"), "wb").write(buf.getvalue())
open(os.path.join(out, "edge.expected.csv"), "w").write(
    "ID1,LeftRight,value\nD1-0001,kanji,2\n,two lines,\"a, \"\"b\"\"\"\n")

# 2b. refused: an entity declaration, a value right of the header, a shared string that is not there
def small(name, sheet, strings=None):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook {ns} {rns}><sheets>'
                   '<sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", parts["xl/_rels/workbook.xml.rels"])
        if strings:
            z.writestr("xl/sharedStrings.xml", strings)
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet {ns}><sheetData>{sheet}</sheetData></worksheet>')
    open(os.path.join(out, name), "wb").write(b.getvalue())

small("entity.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
      '<?xml version="1.0"?>\n<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]><sst><si><t>&a;</t></si></sst>')
small("beyond.xlsx", '<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>'
      '<row r="2"><c r="A2"><v>1</v></c><c r="C2"><v>2</v></c></row>')
small("badindex.xlsx", '<row r="1"><c r="A1" t="s"><v>7</v></c></row>', f'<sst {ns}><si><t>only</t></si></sst>')

# 3. the CMMD clinical table as the dataset ships it
cm = os.path.join(here, "..", "cli", "data", "import", "cmmd")
with open(os.path.join(cm, "CMMD_clinicaldata_revision.csv"), newline="") as f:
    table = list(csv.reader(f))
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Sheet1"
for r, row in enumerate(table, 1):
    for c, v in enumerate(row, 1):
        if v == "":
            continue
        ws.cell(row=r, column=c, value=int(v) if r > 1 and v.isdigit() else v)
wb.save(os.path.join(cm, "CMMD_clinicaldata_revision.xlsx"))
