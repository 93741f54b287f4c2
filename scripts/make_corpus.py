"""Deterministic conformance corpus: >= 2,000 strings covering the hard parts of Unicode.

Run:  python scripts/make_corpus.py   (stdlib only; rewrites tests/tokenizer/corpus.jsonl)
One JSON string per line, ASCII-escaped so the file is byte-stable and editor-proof.
"""

from __future__ import annotations

import json
import pathlib
import random

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/tokenizer/corpus.jsonl"

WORDS = ("the quick brown fox jumps over lazy dog movie film was great terrible boring amazing plot acting "
         "i loved it hated this not bad good really very story characters ending wonderful awful don't "
         "can't won't it's they're we've i'm you'll running jumped happily unbelievable tokenization "
         "transformers embeddings raspberry browser offline").split()
ACCENTED = "café naïve résumé façade jalapeño São Paulo Zürich Ångström Dvořák Łódź Ærø fiancée über crème brûlée".split()
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "u\u031b\u0300", "i\u0307", "z\u030c",
             "\u1e0b\u0323", "a\u0307\u0323", "x\u0301\u0301", "\u0301lead", "\u1100\u1161\u11a8", "\uac00\u11a8"]
CJK = ["日本語のテキスト", "中文分词测试", "한국어 문장입니다", "漢字かな交じり文", "㐀㐁𠀀𠀁", "\U0002b820\U0002b91f\U0002b920 gap", "ｶﾞｷﾞ ﾊﾟﾝ", "東京タワー",
       "这是一个很长的句子没有空格"]
EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🧑🏿‍💻", "😀😃😄", "🥰", "🫠", "✨", "☕"]
RTL = ["שלום עולם", "مرحبا بالعالم", "العربية\u200fنص", "\u202bمقلوب\u202c", "עברית123", "فارسی ۱۲۳"]
CONTROL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060",
           "\u00ad", "\ufffd", "\ue000", "\U000f0000", "\u0378", "\U000e0001", "\u180e", "\x1c", "\x1f"]
SPACES = [" ", "\t", "\n", "\r\n", "\u00a0", "\u1680", "\u2000", "\u2003", "\u2007", "\u2009", "\u200a",
          "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\x0b", "\x0c"]
PUNCT = ["!", "?", "...", "!!!", "?!", "—", "–", "«", "»", "“", "”", "„", "‘", "’", "¿", "¡", "(", ")", "[", "]",
         "{", "}", "#", "@", "$", "%", "&", "*", "+", "=", "<", ">", "|", "~", "^", "`", "\\", "/", "…", "·", "§",
         "¶", "†", "‰", "、", "。", "「", "」", "！", "？", "_", "-", "--", "'", '"', ";", ":", ",", "."]
DIGITS = ["0", "42", "3.14", "1,000,000", "٣٤٥", "१२३", "²", "½", "Ⅻ", "①", "𝟙𝟚", "0x1F", "2026-11-24", "१०"]
CASED = ["İstanbul", "ΣΑΣ", "ΌΣΟΣ", "Straße", "ǅemal", "ﬁne ﬂow", "ℌello", "Ⓐⓑ", "ＦＵＬＬ ｗｉｄｔｈ", "ﬀ",
         "𝐁𝐨𝐥𝐝", "Ꭰꭰ", "ꞋꞌꟀ", "ᏸ", "K", "Å"]
SPECIAL = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "x[SEP]y", "[MASK][MASK]", " [MASK] ", "<s>  x",
           "New York", "new york", "foxes fox", "Café", " Café", "!!!", "abab", "<mask>", "hello world", "tok tokens"]
# Thai: no spaces between words, SARA AM (U+0E33, NFKC splits it), tone marks, MAI YAMOK, Thai digits.
THAI = ["ภาษาไทย", "สวัสดีครับ", "ภาพยนตร์เรื่องนี้ดีมาก", "ไม่มีช่องว่างระหว่างคำในภาษาไทย", "กรุงเทพมหานคร", "น้ำ",
        "ก็", "เด็กๆ", "๑๒๓", "ำ", "ที่นี่", "ไทย\u200bคำ", "กำลังทำงาน", "เกี่ยว"]
# Devanagari: conjuncts (virama), nukta letters NFC decomposes (U+0958), ZWJ / ZWNJ half forms, anusvara.
HINDI = ["हिन्दी", "नमस्ते दुनिया", "यह फ़िल्म बहुत अच्छी थी", "\u0958िला", "अंग्रेज़ी", "क्षत्रिय", "श्री", "ज़्यादा",
         "क्\u200dष", "क्\u200cष", "संस्कृतम्", "ॐ"]
# Scripts mixed inside one word and one text: the splits at script boundaries differ per pre-tokenizer.
MIXED = ["Thaiไทยmixed", "hello世界", "abcابجabc", "टेस्ट test ทดสอบ テスト", "emoji😀ไทย", "Ελληνικά and Русский текст",
         "123ไทย456", "ｶﾀｶﾅ ไทย हिन्दी", "a\u0e31\u0301", "Кириллица latin", "日本語English混在", "한국어ไทยहिन्दी",
         "שלוםไทย", "ไทย日本中文", "mañanaไทย café"]
POOLS = [WORDS, ACCENTED, COMBINING, CJK, EMOJI, RTL, CONTROL, SPACES, PUNCT, DIGITS, CASED, SPECIAL, THAI, HINDI, MIXED]


def mixed(rng: random.Random, n: int) -> str:
    parts = []
    for _ in range(n):
        pool = rng.choice(POOLS) if rng.random() < 0.5 else WORDS
        parts.append(rng.choice(pool))
        parts.append(rng.choice([" ", " ", " ", "", rng.choice(SPACES), rng.choice(PUNCT)]))
    return "".join(parts)


def corpus() -> list[str]:
    rng = random.Random(20261124)
    out: list[str] = ["", " ", "   ", "\t\n", "\u00a0", "\u3000\u2003", "\u200b", "\x00", "a", "A", "!", "Hello, world!"]
    for pool in POOLS:
        out.extend(pool)
        out.extend(" ".join(rng.sample(pool, min(len(pool), 3))) for _ in range(10))
    # words longer than max_input_chars_per_word (100) and right at the limit
    out += ["a" * 99, "b" * 100, "c" * 101, "supercalifragilistic" * 6, "é" * 101, "日" * 120]
    out += [" ".join(rng.choice(WORDS) for _ in range(k)) for k in (60, 120, 250, 600)]  # truncation
    out += [mixed(rng, rng.randint(40, 120)) for _ in range(40)]
    while len(out) < 2200:
        out.append(mixed(rng, rng.randint(1, 14)))
    return out


def main():
    lines = [json.dumps(s, ensure_ascii=True) for s in corpus()]
    OUT.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"{OUT}: {len(lines)} strings")


if __name__ == "__main__":
    main()
