"""Strip personal data from a question before it is logged: ID numbers, phone numbers, card
numbers, e-mail addresses and names the asker gives ("我叫张三")."""

from __future__ import annotations

import re
import unicodedata

SURNAMES = str.split(
    "欧阳 司马 诸葛 上官 东方 皇甫 令狐 慕容 司徒 夏侯 王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 "
    "谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 "
    "钟 谭 陆 汪 范 金 石 廖 贾 夏 韦 付 傅 方 白 邹 孟 熊 秦 邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 贺 "
    "顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤 易 常 文 欧 柳"
)
_SURNAME = "|".join(sorted(SURNAMES, key=len, reverse=True))
# A name after the words people introduce themselves with, ending where the sentence moves on.
_NAME_AFTER = re.compile(
    r"(我叫|我是|本人|姓名是?|名字是|名字叫|名叫|叫做|我妈|我爸|母亲|父亲|老婆|老公|爱人|儿子|女儿|爷爷|奶奶|外婆|外公)[:：\s]*"
    rf"((?:{_SURNAME})[\u4e00-\u9fff]{{1,2}}?)"
    r"(?=[\s,，。.!！?？;；、:：]|$|想|要|在|的|今|从|问|咨询|申请|办|打算|准备|，)"
)
_NAME_TITLE = re.compile(rf"((?:{_SURNAME})[\u4e00-\u9fff]?)(先生|女士|小姐|阿姨|师傅)")
_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[0-9]{7}[0-9Xx](?![0-9])|(?<![0-9])[1-9][0-9]{14}(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}-?[0-9]{7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9][0-9 -]{6,}[0-9](?![0-9])")  # cards, account numbers


def anonymise(text: str) -> str:
    """The question with personal data replaced by placeholders ([身份证号], [手机号], [姓名] …)."""
    value = unicodedata.normalize("NFKC", text)
    value = _EMAIL.sub("[邮箱]", value)
    value = _ID_NUMBER.sub("[身份证号]", value)
    value = _MOBILE.sub("[手机号]", value)
    value = _LANDLINE.sub("[电话]", value)
    value = _LONG_NUMBER.sub("[号码]", value)
    value = _NAME_AFTER.sub(lambda m: f"{m.group(1)}[姓名]", value)
    value = _NAME_TITLE.sub(lambda m: f"[姓名]{m.group(2)}", value)
    return value
