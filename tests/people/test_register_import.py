"""The register import end to end through the pages: upload, columns, dry run, commit, error report, re-upload."""

import io

import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from python_calamine import CalamineWorkbook

from fangkong.areas.models import Household
from fangkong.audit.models import AuditEvent
from fangkong.people.models import ImportMapping, Person, RegisterImport
from tests.base import WorldTestCase
from tests.factories import make_resident_id

HEADERS = ["序号", "姓名", "性别", "公民身份号码", "联系电话", "楼栋", "单元", "门牌号", "与户主关系", "人员类别",
           "是否流动人口", "是否出租房", "困难群体类别", "现住址"]


def register_xlsx(rows, title=True) -> bytes:
    """A register as grid workers send it: a merged title row above the header."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("3号楼")
    start = 0
    if title:
        sheet.merge_range(0, 0, 0, len(HEADERS) - 1, "甲村一网格常住人口信息汇总表")
        start = 1
    for col, header in enumerate(HEADERS):
        sheet.write(start, col, header)
    for r, row in enumerate(rows, start=start + 1):
        for col, value in enumerate(row):
            if isinstance(value, float):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, str(value))
    book.close()
    return buffer.getvalue()


class RegisterImportFlowTests(WorldTestCase):
    def setUp(self):
        self.id1 = make_resident_id()
        self.id2 = make_resident_id(male=False)
        self.rows = [
            [1, "王大明", "男", self.id1, 13862345678.0, "3号楼", "1", "301", "户主", "常住人口", "否", "否", "", "甲村3号楼1单元301"],
            [2, "李小红", "女", self.id2.lower().replace("X", "x"), "13962345679", "3号楼", "1", "301", "配偶", "", "否", "否", "低保", ""],
            [3, "赵错号", "男", self.id1[:-1] + ("0" if self.id1[-1] != "0" else "1"), "", "3号楼", "1", "302", "户主", "", "", "", "", ""],
            [4, "钱重复", "女", self.id2, "", "3号楼", "1", "303", "户主", "", "", "", "", ""],
            [5, "孙科学", "男", "3.70923E+17", "", "3号楼", "1", "304", "户主", "", "", "", "", ""],
        ]
        self.client.force_login(self.w.grid_a_worker)

    def upload(self, data: bytes, name="甲村一网格.xlsx"):
        response = self.client.post(reverse("people:imports"), {
            "file": SimpleUploadedFile(name, data), "area": self.w.grid_a.code})
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        return RegisterImport.objects.latest("id")

    def dry_run(self, batch, mapping=None):
        form = {f"col_{i}": code for i, code in enumerate(mapping or [])} if mapping else self.guessed(batch)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("people:import_detail", args=[batch.pk]), form)
        batch.refresh_from_db()
        return batch

    def guessed(self, batch):
        page = self.client.get(reverse("people:import_detail", args=[batch.pk]))
        form = page.context["form"]
        return {name: field.initial or "" for name, field in form.fields.items()}

    def commit(self, batch):
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("people:import_commit", args=[batch.pk]))
        batch.refresh_from_db()
        return batch

    def test_upload_guesses_columns_past_the_title_row(self):
        batch = self.upload(register_xlsx(self.rows))
        self.assertEqual(batch.sheets[0]["header_row"], 2)
        self.assertEqual(batch.mapping["姓名"], "name")
        self.assertEqual(batch.mapping["公民身份号码"], "id_number")
        self.assertEqual(batch.mapping["门牌号"], "door")

    def test_dry_run_writes_nothing_and_lists_every_rejected_row(self):
        people_before = Person.objects.count()
        batch = self.dry_run(self.upload(register_xlsx(self.rows)))
        self.assertEqual(batch.status, "planned", batch.summary)
        counts = batch.summary["counts"]
        self.assertEqual((counts["new"], counts["rejected"]), (2, 3))
        self.assertEqual(Person.objects.count(), people_before)
        reasons = {r["row"]: "".join(r["reasons"]) for r in batch.summary["rejected"]}
        self.assertIn("校验位", reasons[5])
        self.assertIn("重复", reasons[6])
        self.assertIn("科学计数法", reasons[7])
        page = self.client.get(reverse("people:import_detail", args=[batch.pk]))
        self.assertContains(page, "确认导入")

    def test_commit_writes_people_and_households_then_reupload_changes_nothing(self):
        batch = self.commit(self.dry_run(self.upload(register_xlsx(self.rows))))
        self.assertEqual(batch.status, "committed", batch.summary)
        wang = Person.objects.get(name="王大明")
        self.assertEqual(wang.phone_masked, "138****5678")
        self.assertEqual(wang.area_id, self.w.grid_a.code)
        li = Person.objects.get(name="李小红")
        self.assertEqual(li.household_id, wang.household_id)
        self.assertEqual(li.vulnerable_group, "subsistence")
        self.assertEqual(Household.objects.get(pk=wang.household_id).door, "301")
        self.w.grid_a.refresh_from_db()
        self.assertEqual(self.w.grid_a.population, 3)
        self.assertTrue(AuditEvent.objects.filter(action="import", object_type="people.registerimport").exists())
        self.assertEqual(ImportMapping.objects.get(area=self.w.grid_a).mapping["姓名"], "name")

        people, households = Person.objects.count(), Household.objects.count()
        again = self.commit(self.dry_run(self.upload(register_xlsx(self.rows))))
        self.assertEqual(again.summary["counts"]["unchanged"], 2)
        self.assertEqual((Person.objects.count(), Household.objects.count()), (people, households))

    def test_category_puts_people_in_key_groups_and_floating(self):
        rows = [list(self.rows[0]), list(self.rows[1])]
        rows[0][9] = "医务人员"
        rows[1][9] = "流动人口"
        self.commit(self.dry_run(self.upload(register_xlsx(rows))))
        wang = Person.objects.get(name="王大明")
        self.assertEqual([kg.code for kg in wang.key_groups.all()], ["medical"])
        self.assertTrue(Person.objects.get(name="李小红").is_floating)

    def test_changed_phone_and_address_show_as_a_diff(self):
        self.commit(self.dry_run(self.upload(register_xlsx(self.rows[:2]))))
        changed = [list(self.rows[0]), list(self.rows[1])]
        changed[0][4] = "13700001111"
        changed[0][13] = "甲村3号楼1单元301（新址）"
        batch = self.dry_run(self.upload(register_xlsx(changed)))
        self.assertEqual(batch.summary["counts"]["updated"], 1)
        diff = batch.summary["updates"][0]["changes"]
        self.assertEqual(diff["phone"], ["138****5678", "137****1111"])
        self.assertIn("新址", diff["address"][1])
        self.commit(batch)
        self.assertTrue(AuditEvent.objects.filter(action="update", reason="人口信息导入").exists())

    def test_error_report_holds_the_rejected_rows_as_text(self):
        batch = self.dry_run(self.upload(register_xlsx(self.rows)))
        response = self.client.get(reverse("people:import_errors", args=[batch.pk]))
        data = b"".join(response.streaming_content)
        rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
        self.assertEqual(len(rows), 4)
        self.assertEqual(rows[0][2], "错误原因")
        self.assertIn("3.70923E+17", [str(v) for v in rows[3]])

    def test_other_grid_worker_cannot_see_the_batch(self):
        batch = self.upload(register_xlsx(self.rows))
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("people:import_detail", args=[batch.pk])).status_code, 404)
        self.assertEqual(self.client.post(reverse("people:import_commit", args=[batch.pk])).status_code, 404)

    def test_someone_registered_in_another_grid_is_not_moved_by_a_grid_worker(self):
        rows = [[1, self.w.person_b.name, "", self.w.person_b.document_number, "", "3号楼", "1", "301", "户主",
                 "", "", "", "", ""]]
        batch = self.dry_run(self.upload(register_xlsx(rows)))
        self.assertEqual(batch.summary["counts"]["rejected"], 1)
        self.assertIn("其他辖区", "".join(batch.summary["rejected"][0]["reasons"]))

    def test_commit_without_dry_run_is_refused(self):
        batch = self.upload(register_xlsx(self.rows))
        self.commit(batch)
        self.assertEqual(batch.status, "uploaded")

    def test_csv_in_gbk(self):
        header = ",".join(HEADERS[1:5]) + ",门牌号\n"
        body = f"周六,男,{make_resident_id()},13800001234,501\n"
        batch = self.dry_run(self.upload((header + body).encode("gb18030"), name="register.csv"))
        self.assertEqual(batch.summary["counts"]["new"], 1, batch.summary)


class OversizeUploadTests(WorldTestCase):
    def test_a_200_mb_upload_is_refused_from_its_length_before_reading(self):
        self.client.force_login(self.w.grid_a_worker)
        response = self.client.generic(
            "POST", reverse("people:imports"), data=b"x" * 1024, content_type="multipart/form-data; boundary=x",
            CONTENT_LENGTH=str(200 * 1024 * 1024))
        self.assertEqual(response.status_code, 413)
        self.assertContains(response, "150 MB", status_code=413)
        self.assertFalse(RegisterImport.objects.exists())
