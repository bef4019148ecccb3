"""core.tabular: finding the header row of an uploaded sheet, shared by the small imports."""

from django.test import SimpleTestCase

from fangkong.core.tabular import Headers, ImportFileError, rows_under_header


class HeaderRowTests(SimpleTestCase):
    """The header row is found under a title, loosely matched; blank rows go; empty and huge files are refused."""

    headers = Headers({"name": ["姓名"], "code": ["编码", "區劃編碼"]})

    def read(self, table, max_rows=10):
        return rows_under_header([table], self.headers, lambda c: "name" in c, max_rows=max_rows,
                                 not_found="找不到表头")

    def test_title_row_loose_headers_and_blank_rows(self):
        table = [["某某表"], [" 姓 名* ", "区划编码（ＡＢ）"], ["张三", "1"], [None, " "], ["李四", None]]
        self.assertEqual(self.headers.field("區劃編碼"), "code")
        self.assertEqual(self.read(table), [(3, {"name": "张三"}), (5, {"name": "李四"})])

    def test_refusals(self):
        for table, message in (([["姓名"]], "只有表头"), ([["别的"], ["x"]], "找不到表头"),
                               ([["姓名"], ["a"], ["b"]], "一次最多导入")):
            with self.subTest(message), self.assertRaisesMessage(ImportFileError, message):
                self.read(table, max_rows=1)
