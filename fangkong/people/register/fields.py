"""The register's fields and the header names people really write for them."""

from django.utils.translation import gettext_lazy as _

# field code -> (label, header names seen in real registers; compared after
# removing spaces, line breaks and "*" / "（必填）" marks)
FIELDS = {
    "name": (_("姓名"), ["姓名", "名字", "居民姓名", "人员姓名"]),
    "sex": (_("性别"), ["性别"]),
    "id_number": (_("公民身份号码"), ["公民身份号码", "身份证号", "身份证号码", "身份证", "证件号码", "证件号",
                                    "居民身份证号码", "身份证件号码"]),
    "doc_type": (_("证件类型"), ["证件类型", "证件种类"]),
    "phone": (_("联系电话"), ["联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "电话号码"]),
    "birth_date": (_("出生日期"), ["出生日期", "出生年月", "生日", "出生年月日"]),
    "building": (_("楼栋"), ["楼栋", "楼号", "栋", "楼栋号", "楼", "小区楼栋", "组", "村民小组"]),
    "unit": (_("单元"), ["单元", "单元号"]),
    "door": (_("门牌号"), ["门牌号", "房号", "门牌", "房间号", "户号", "室"]),
    "relation": (_("与户主关系"), ["与户主关系", "关系", "户主关系", "与户主的关系"]),
    "category": (_("人员类别"), ["人员类别", "人员类型", "类别", "重点人群", "人员分类"]),
    "is_floating": (_("是否流动人口"), ["是否流动人口", "流动人口", "是否外来人口", "外来人口"]),
    "is_rental": (_("是否出租房"), ["是否出租房", "出租房", "是否出租", "出租屋", "是否租户", "租户"]),
    "vulnerable_group": (_("困难群体类别"), ["困难群体类别", "困难群体", "弱势群体", "困难类别", "特殊群体"]),
    "lives_alone_elderly": (_("是否独居老人"), ["是否独居老人", "独居老人", "独居"]),
    "workplace": (_("工作单位/学校班级"), ["工作单位/学校班级", "工作单位", "单位", "学校班级", "就读学校及班级"]),
    "address": (_("现住址"), ["现住址", "住址", "居住地址", "现居住地址", "地址", "家庭住址"]),
    "grid": (_("网格"), ["网格", "网格编码", "网格代码", "所属网格", "网格名称"]),
}

# Fields without which a row cannot be placed or identified.
REQUIRED = ["name"]


def normalize_header(text) -> str:
    if text is None:
        return ""
    value = str(text)
    for mark in ("（必填）", "(必填)", "*", "＊", "\n", "\r", " ", "\u3000", "\t", "：", ":"):
        value = value.replace(mark, "")
    return value.strip()


_LOOKUP = {normalize_header(name): field for field, (_label, names) in FIELDS.items() for name in names}


def field_for_header(text) -> str | None:
    """The field a header names, or None."""
    return _LOOKUP.get(normalize_header(text))


def guess_mapping(headers: list) -> dict[int, str]:
    """Column index -> field for the headers recognised (the first column wins a field)."""
    mapping: dict[int, str] = {}
    taken = set()
    for index, header in enumerate(headers):
        field = field_for_header(header)
        if field and field not in taken:
            mapping[index] = field
            taken.add(field)
    return mapping
