"""The national code tables (医疗保障信息平台 数据字典) used by settlement.

Each member's value is the national code and ``label`` its Chinese name, so
``Insutype("310").label == "职工基本医疗保险"``. Regions extend several tables with local codes;
those stay plain strings at the edge and only these base codes carry meaning in the domain.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class CodeTable(StrEnum):
    """A national code with its Chinese name."""

    label: str

    def __new__(cls, code: str, label: str = "") -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @classmethod
    def describe(cls, code: str) -> str:
        """The Chinese name of a code, or the code itself if the table does not know it."""
        member = cls._value2member_map_.get(code)
        return member.label if isinstance(member, CodeTable) else code


class Insutype(CodeTable):
    """险种类型 insutype."""

    EMPLOYEE_BASIC = "310", "职工基本医疗保险"
    CIVIL_SERVANT = "320", "公务员医疗补助"
    EMPLOYEE_LARGE = "330", "大额医疗费用补助"
    RETIRED_CADRE = "340", "离休人员医疗保障"
    DISABLED_SOLDIER = "350", "一至六级残废军人医疗补助"
    RED_ARMY = "360", "老红军医疗保障"
    ENTERPRISE_SUPPLEMENT = "370", "企业补充医疗保险"
    RURAL_COOP = "380", "新型农村合作医疗"
    RESIDENT_BASIC = "390", "城乡居民基本医疗保险"
    URBAN_RESIDENT = "391", "城镇居民基本医疗保险"
    RESIDENT_SERIOUS = "392", "城乡居民大病医疗保险"
    SPECIAL_OTHER = "399", "其他特殊人员医疗保障"
    LONG_TERM_CARE = "410", "长期照护保险"
    MATERNITY = "510", "生育保险"


class MedType(CodeTable):
    """医疗类别 med_type (national base codes)."""

    OUTPATIENT = "11", "普通门诊"
    REGISTRATION = "12", "门诊挂号"
    EMERGENCY = "13", "急诊"
    CHRONIC_OUTPATIENT = "14", "门诊慢特病"
    INJURY_OUTPATIENT = "19", "意外伤害门诊"
    INPATIENT = "21", "普通住院"
    INJURY_INPATIENT = "22", "外伤住院"
    TRANSFERRED_INPATIENT = "23", "转外诊治住院"
    EMERGENCY_TO_INPATIENT = "24", "急诊转住院"
    CROSS_REGION_INPATIENT = "25", "异地住院"
    SINGLE_DISEASE_INPATIENT = "26", "单病种住院"
    SELF_REFERRED = "27", "自主就医"
    DAY_SURGERY = "28", "日间手术"
    PHARMACY = "41", "定点药店购药"
    MATERNITY_OUTPATIENT = "51", "生育门诊"
    MATERNITY_INPATIENT = "52", "生育住院"
    FAMILY_PLANNING = "53", "计划生育手术费"


class PsnType(CodeTable):
    """人员类别 psn_type.

    The first two digits group them: 11 在职, 12 退休, 13 离休, 14 学生/未成年, 15 居民.
    """

    EMPLOYEE_IN_SERVICE = "1101", "职工在职"
    CIVIL_SERVANT_IN_SERVICE = "1102", "公务员在职"
    FLEXIBLE_IN_SERVICE = "1103", "灵活就业在职"
    EMPLOYEE_RETIRED = "1201", "职工退休"
    CIVIL_SERVANT_RETIRED = "1202", "公务员退休"
    FLEXIBLE_RETIRED = "1203", "灵活就业退休"
    RETIRED_CADRE = "1300", "离休"
    NEWBORN = "1401", "新生儿"
    PRESCHOOL = "1402", "学龄前儿童"
    SCHOOL_PUPIL = "1403", "中小学生"
    UNIVERSITY_STUDENT = "1404", "大学生"
    MINOR_NOT_IN_SCHOOL = "1405", "未成年(未入学)"
    ADULT_RESIDENT = "1501", "普通居民(成年)"


class MdtrtCertType(CodeTable):
    """就诊凭证类型 mdtrt_cert_type."""

    E_VOUCHER = "01", "医保电子凭证"
    ID_CARD = "02", "居民身份证"
    SOCIAL_SECURITY_CARD = "03", "社会保障卡"


class PsnCertType(CodeTable):
    """人员证件类型 psn_cert_type (the ones settlement meets)."""

    ID_CARD = "01", "居民身份证(户口簿)"
    OFFICER = "02", "军官证"
    SOCIAL_SECURITY_CARD = "90", "社会保障卡"
    OTHER = "99", "其他"


class PsnInsuStas(CodeTable):
    """人员参保状态 psn_insu_stas."""

    NOT_INSURED = "0", "未参保"
    NORMAL = "1", "正常参保"
    SUSPENDED = "2", "暂停"
    INVALID = "3", "无效"
    TERMINATED = "4", "终止"


class ChrgitmLv(CodeTable):
    """收费项目等级 chrgitm_lv: the catalogue class."""

    CLASS_A = "01", "甲类"
    CLASS_B = "02", "乙类"
    CLASS_C = "03", "丙类"


class ListType(CodeTable):
    """目录类别 list_type: what a catalogue item is."""

    DRUG = "101", "西药中成药"
    HERBAL = "102", "中药饮片"
    SERVICE = "201", "医疗服务项目"
    CONSUMABLE = "301", "医用耗材"


class FundPayType(CodeTable):
    """基金支付类型 fund_pay_type: which fund paid a share of a settlement."""

    EMPLOYEE_POOL = "310100", "职工基本医疗保险统筹基金"
    EMPLOYEE_ACCOUNT = "310200", "职工基本医疗保险个人账户基金"
    CIVIL_SERVANT = "320100", "公务员医疗补助基金"
    EMPLOYEE_LARGE = "330100", "职工大额医疗费用补助基金"
    RETIRED_CADRE = "340100", "离休人员医疗保障基金"
    ENTERPRISE_SUPPLEMENT = "370100", "企业补充医疗保险基金"
    RESIDENT_POOL = "390100", "城乡居民基本医疗保险基金"
    RESIDENT_SERIOUS = "390200", "城乡居民大病医疗保险基金"
    MEDICAL_ASSISTANCE = "610100", "医疗救助基金"
    OTHER = "999997", "其他基金"


class ClrType(CodeTable):
    """清算类别 clr_type."""

    OUTPATIENT = "11", "门诊"
    INPATIENT = "21", "住院"
    PHARMACY = "41", "药店"
    OTHER = "99", "其他"


class PsnIdetType(CodeTable):
    """人员身份类别 psn_idet_type: the 医疗救助 categories used by policy files (regions extend these)."""

    EXTREME_POVERTY = "2301", "特困供养人员"
    SUBSISTENCE = "2302", "低保对象"
    NEAR_SUBSISTENCE = "2303", "低保边缘家庭成员"
    POVERTY_RELAPSE_RISK = "2304", "防止返贫监测对象"


class Gend(CodeTable):
    """性别 gend."""

    MALE = "1", "男"
    FEMALE = "2", "女"
    UNKNOWN = "9", "未说明"
