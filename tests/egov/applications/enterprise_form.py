"""A valid enterprise-start form (一表申请) for tests."""

ENTERPRISE_FORM = {
    "contact_phone": "13874800000", "enterprise_name": "长沙麓谷测试科技有限公司", "division_code": "430104",
    "address": "长沙市岳麓区麓谷街道岳麓西大道588号", "registered_capital_yuan": 500_000, "industry_code": "I65",
    "business_scope": "软件开发；信息技术咨询服务", "employees": 5, "seal_count": 3, "bank_name": "长沙银行岳麓支行",
}
