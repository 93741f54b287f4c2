// edgepack tokenizer: a documented subset of Hugging Face tokenizer.json, dependency-free.
// Same pipeline and results as toolkit/runtime/tokenizer (Python); both are held to golden files
// made by Hugging Face `tokenizers` (tests/tokenizer/golden). Spec: toolkit/runtime/tokenizer/SPEC.md.
//
// Works in browsers and Node >= 18 (no imports). Internally every string is an array of code points,
// so offsets are computed in code points exactly as the reference (and Python) report them;
// Encoding.offsets is converted to UTF-16 code units (what String.prototype.slice wants) and
// Encoding.codePointOffsets keeps the reference's numbers.

export const SUPPORTED_VERSIONS = Object.freeze(['1.0']);

export class TokenizerSpecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TokenizerSpecError';
  }
}

// ---- Unicode tables (derived from the reference; see scripts/make_tables.py) ------------
// BEGIN GENERATED TABLES (scripts/make_tables.py, tokenizers 0.23.3)
const TABLES = {
 "ccc": "300-314:230 315-315:232 316-319:220 31a-31a:232 31b-31b:216 31c-320:220 321-322:202 323-326:220 327-328:202 329-333:220 334-338:1 339-33c:220 33d-344:230 345-345:240 346-346:230 347-349:220 34a-34c:230 34d-34e:220 350-352:230 353-356:220 357-357:230 358-358:232 359-35a:220 35b-35b:230 35c-35c:233 35d-35e:234 35f-35f:233 360-361:234 362-362:233 363-36f:230 483-487:230 591-591:220 592-595:230 596-596:220 597-599:230 59a-59a:222 59b-59b:220 59c-5a1:230 5a2-5a7:220 5a8-5a9:230 5aa-5aa:220 5ab-5ac:230 5ad-5ad:222 5ae-5ae:228 5af-5af:230 5b0-5b0:10 5b1-5b1:11 5b2-5b2:12 5b3-5b3:13 5b4-5b4:14 5b5-5b5:15 5b6-5b6:16 5b7-5b7:17 5b8-5b8:18 5b9-5ba:19 5bb-5bb:20 5bc-5bc:21 5bd-5bd:22 5bf-5bf:23 5c1-5c1:24 5c2-5c2:25 5c4-5c4:230 5c5-5c5:220 5c7-5c7:18 610-617:230 618-618:30 619-619:31 61a-61a:32 64b-64b:27 64c-64c:28 64d-64d:29 64e-64e:30 64f-64f:31 650-650:32 651-651:33 652-652:34 653-654:230 655-656:220 657-65b:230 65c-65c:220 65d-65e:230 65f-65f:220 670-670:35 6d6-6dc:230 6df-6e2:230 6e3-6e3:220 6e4-6e4:230 6e7-6e8:230 6ea-6ea:220 6eb-6ec:230 6ed-6ed:220 711-711:36 730-730:230 731-731:220 732-733:230 734-734:220 735-736:230 737-739:220 73a-73a:230 73b-73c:220 73d-73d:230 73e-73e:220 73f-741:230 742-742:220 743-743:230 744-744:220 745-745:230 746-746:220 747-747:230 748-748:220 749-74a:230 7eb-7f1:230 7f2-7f2:220 7f3-7f3:230 7fd-7fd:220 816-819:230 81b-823:230 825-827:230 829-82d:230 859-85b:220 898-898:230 899-89b:220 89c-89f:230 8ca-8ce:230 8cf-8d3:220 8d4-8e1:230 8e3-8e3:220 8e4-8e5:230 8e6-8e6:220 8e7-8e8:230 8e9-8e9:220 8ea-8ec:230 8ed-8ef:220 8f0-8f0:27 8f1-8f1:28 8f2-8f2:29 8f3-8f5:230 8f6-8f6:220 8f7-8f8:230 8f9-8fa:220 8fb-8ff:230 93c-93c:7 94d-94d:9 951-951:230 952-952:220 953-954:230 9bc-9bc:7 9cd-9cd:9 9fe-9fe:230 a3c-a3c:7 a4d-a4d:9 abc-abc:7 acd-acd:9 b3c-b3c:7 b4d-b4d:9 bcd-bcd:9 c3c-c3c:7 c4d-c4d:9 c55-c55:84 c56-c56:91 cbc-cbc:7 ccd-ccd:9 d3b-d3c:9 d4d-d4d:9 dca-dca:9 e38-e39:103 e3a-e3a:9 e48-e4b:107 eb8-eb9:118 eba-eba:9 ec8-ecb:122 f18-f19:220 f35-f35:220 f37-f37:220 f39-f39:216 f71-f71:129 f72-f72:130 f74-f74:132 f7a-f7d:130 f80-f80:130 f82-f83:230 f84-f84:9 f86-f87:230 fc6-fc6:220 1037-1037:7 1039-103a:9 108d-108d:220 135d-135f:230 1714-1715:9 1734-1734:9 17d2-17d2:9 17dd-17dd:230 18a9-18a9:228 1939-1939:222 193a-193a:230 193b-193b:220 1a17-1a17:230 1a18-1a18:220 1a60-1a60:9 1a75-1a7c:230 1a7f-1a7f:220 1ab0-1ab4:230 1ab5-1aba:220 1abb-1abc:230 1abd-1abd:220 1abf-1ac0:220 1ac1-1ac2:230 1ac3-1ac4:220 1ac5-1ac9:230 1aca-1aca:220 1acb-1ace:230 1b34-1b34:7 1b44-1b44:9 1b6b-1b6b:230 1b6c-1b6c:220 1b6d-1b73:230 1baa-1bab:9 1be6-1be6:7 1bf2-1bf3:9 1c37-1c37:7 1cd0-1cd2:230 1cd4-1cd4:1 1cd5-1cd9:220 1cda-1cdb:230 1cdc-1cdf:220 1ce0-1ce0:230 1ce2-1ce8:1 1ced-1ced:220 1cf4-1cf4:230 1cf8-1cf9:230 1dc0-1dc1:230 1dc2-1dc2:220 1dc3-1dc9:230 1dca-1dca:220 1dcb-1dcc:230 1dcd-1dcd:234 1dce-1dce:214 1dcf-1dcf:220 1dd0-1dd0:202 1dd1-1df5:230 1df6-1df6:232 1df7-1df8:228 1df9-1df9:220 1dfa-1dfa:218 1dfb-1dfb:230 1dfc-1dfc:233 1dfd-1dfd:220 1dfe-1dfe:230 1dff-1dff:220 20d0-20d1:230 20d2-20d3:1 20d4-20d7:230 20d8-20da:1 20db-20dc:230 20e1-20e1:230 20e5-20e6:1 20e7-20e7:230 20e8-20e8:220 20e9-20e9:230 20ea-20eb:1 20ec-20ef:220 20f0-20f0:230 2cef-2cf1:230 2d7f-2d7f:9 2de0-2dff:230 302a-302a:218 302b-302b:228 302c-302c:232 302d-302d:222 302e-302f:224 3099-309a:8 a66f-a66f:230 a674-a67d:230 a69e-a69f:230 a6f0-a6f1:230 a806-a806:9 a82c-a82c:9 a8c4-a8c4:9 a8e0-a8f1:230 a92b-a92d:220 a953-a953:9 a9b3-a9b3:7 a9c0-a9c0:9 aab0-aab0:230 aab2-aab3:230 aab4-aab4:220 aab7-aab8:230 aabe-aabf:230 aac1-aac1:230 aaf6-aaf6:9 abed-abed:9 fb1e-fb1e:26 fe20-fe26:230 fe27-fe2d:220 fe2e-fe2f:230 101fd-101fd:220 102e0-102e0:220 10376-1037a:230 10a0d-10a0d:220 10a0f-10a0f:230 10a38-10a38:230 10a39-10a39:1 10a3a-10a3a:220 10a3f-10a3f:9 10ae5-10ae5:230 10ae6-10ae6:220 10d24-10d27:230 10eab-10eac:230 10f46-10f47:220 10f48-10f4a:230 10f4b-10f4b:220 10f4c-10f4c:230 10f4d-10f50:220 10f82-10f82:230 10f83-10f83:220 10f84-10f84:230 10f85-10f85:220 11046-11046:9 11070-11070:9 1107f-1107f:9 110b9-110b9:9 110ba-110ba:7 11100-11102:230 11133-11134:9 11173-11173:7 111c0-111c0:9 111ca-111ca:7 11235-11235:9 11236-11236:7 112e9-112e9:7 112ea-112ea:9 1133b-1133c:7 1134d-1134d:9 11366-1136c:230 11370-11374:230 11442-11442:9 11446-11446:7 1145e-1145e:230 114c2-114c2:9 114c3-114c3:7 115bf-115bf:9 115c0-115c0:7 1163f-1163f:9 116b6-116b6:9 116b7-116b7:7 1172b-1172b:9 11839-11839:9 1183a-1183a:7 1193d-1193e:9 11943-11943:7 119e0-119e0:9 11a34-11a34:9 11a47-11a47:9 11a99-11a99:9 11c3f-11c3f:9 11d42-11d42:7 11d44-11d45:9 11d97-11d97:9 16af0-16af4:1 16b30-16b36:230 16ff0-16ff1:6 1bc9e-1bc9e:1 1d165-1d166:216 1d167-1d169:1 1d16d-1d16d:226 1d16e-1d172:216 1d17b-1d182:220 1d185-1d189:230 1d18a-1d18b:220 1d1aa-1d1ad:230 1d242-1d244:230 1e000-1e006:230 1e008-1e018:230 1e01b-1e021:230 1e023-1e024:230 1e026-1e02a:230 1e130-1e136:230 1e2ae-1e2ae:230 1e2ec-1e2ef:230 1e8d0-1e8d6:220 1e944-1e949:230 1e94a-1e94a:7",
 "comb": "300-36f 483-489 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-65f 670 6d6-6dc 6df-6e4 6e7-6e8 6ea-6ed 711 730-74a 7a6-7b0 7eb-7f3 816-819 81b-823 825-827 829-82d 859-85b 8d4-8e1 8e3-903 93a-93c 93e-94f 951-957 962-963 981-983 9bc 9be-9c4 9c7-9c8 9cb-9cd 9d7 9e2-9e3 a01-a03 a3c a3e-a42 a47-a48 a4b-a4d a51 a70-a71 a75 a81-a83 abc abe-ac5 ac7-ac9 acb-acd ae2-ae3 b01-b03 b3c b3e-b44 b47-b48 b4b-b4d b56-b57 b62-b63 b82 bbe-bc2 bc6-bc8 bca-bcd bd7 c00-c03 c3e-c44 c46-c48 c4a-c4d c55-c56 c62-c63 c81-c83 cbc cbe-cc4 cc6-cc8 cca-ccd cd5-cd6 ce2-ce3 d01-d03 d3e-d44 d46-d48 d4a-d4d d57 d62-d63 d82-d83 dca dcf-dd4 dd6 dd8-ddf df2-df3 e31 e34-e3a e47-e4e eb1 eb4-eb9 ebb-ebc ec8-ecd f18-f19 f35 f37 f39 f3e-f3f f71-f84 f86-f87 f8d-f97 f99-fbc fc6 102b-103e 1056-1059 105e-1060 1062-1064 1067-106d 1071-1074 1082-108d 108f 109a-109d 135d-135f 1712-1714 1732-1734 1752-1753 1772-1773 17b4-17d3 17dd 180b-180d 1885-1886 18a9 1920-192b 1930-193b 1a17-1a1b 1a55-1a5e 1a60-1a7c 1a7f 1ab0-1abe 1b00-1b04 1b34-1b44 1b6b-1b73 1b80-1b82 1ba1-1bad 1be6-1bf3 1c24-1c37 1cd0-1cd2 1cd4-1ce8 1ced 1cf2-1cf4 1cf8-1cf9 1dc0-1df5 1dfb-1dff 20d0-20f0 2cef-2cf1 2d7f 2de0-2dff 302a-302f 3099-309a a66f-a672 a674-a67d a69e-a69f a6f0-a6f1 a802 a806 a80b a823-a827 a880-a881 a8b4-a8c5 a8e0-a8f1 a926-a92d a947-a953 a980-a983 a9b3-a9c0 a9e5 aa29-aa36 aa43 aa4c-aa4d aa7b-aa7d aab0 aab2-aab4 aab7-aab8 aabe-aabf aac1 aaeb-aaef aaf5-aaf6 abe3-abea abec-abed fb1e fe00-fe0f fe20-fe2f 101fd 102e0 10376-1037a 10a01-10a03 10a05-10a06 10a0c-10a0f 10a38-10a3a 10a3f 10ae5-10ae6 11000-11002 11038-11046 1107f-11082 110b0-110ba 11100-11102 11127-11134 11173 11180-11182 111b3-111c0 111ca-111cc 1122c-11237 1123e 112df-112ea 11300-11303 1133c 1133e-11344 11347-11348 1134b-1134d 11357 11362-11363 11366-1136c 11370-11374 11435-11446 114b0-114c3 115af-115b5 115b8-115c0 115dc-115dd 11630-11640 116ab-116b7 1171d-1172b 11c2f-11c36 11c38-11c3f 11c92-11ca7 11ca9-11cb6 16af0-16af4 16b30-16b36 16f51-16f7e 16f8f-16f92 1bc9d-1bc9e 1d165-1d169 1d16d-1d172 1d17b-1d182 1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1da00-1da36 1da3b-1da6c 1da75 1da84 1da9b-1da9f 1daa1-1daaf 1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e8d0-1e8d6 1e944-1e94a e0100-e01ef",
 "lower": "41:26:1:32 c0:23:1:32 d8:7:1:32 100:24:2:1 132:3:2:1 139:8:2:1 14a:23:2:1 178:1:1:-121 179:3:2:1 181:1:1:210 182:2:2:1 186:1:1:206 187:1:1:1 189:2:1:205 18b:1:1:1 18e:1:1:79 18f:1:1:202 190:1:1:203 191:1:1:1 193:1:1:205 194:1:1:207 196:1:1:211 197:1:1:209 198:1:1:1 19c:1:1:211 19d:1:1:213 19f:1:1:214 1a0:3:2:1 1a6:1:1:218 1a7:1:1:1 1a9:1:1:218 1ac:1:1:1 1ae:1:1:218 1af:1:1:1 1b1:2:1:217 1b3:2:2:1 1b7:1:1:219 1b8:1:1:1 1bc:1:1:1 1c4:1:1:2 1c5:1:1:1 1c7:1:1:2 1c8:1:1:1 1ca:1:1:2 1cb:9:2:1 1de:9:2:1 1f1:1:1:2 1f2:2:2:1 1f6:1:1:-97 1f7:1:1:-56 1f8:20:2:1 220:1:1:-130 222:9:2:1 23a:1:1:10795 23b:1:1:1 23d:1:1:-163 23e:1:1:10792 241:1:1:1 243:1:1:-195 244:1:1:69 245:1:1:71 246:5:2:1 370:2:2:1 376:1:1:1 37f:1:1:116 386:1:1:38 388:3:1:37 38c:1:1:64 38e:2:1:63 391:17:1:32 3a3:9:1:32 3cf:1:1:8 3d8:12:2:1 3f4:1:1:-60 3f7:1:1:1 3f9:1:1:-7 3fa:1:1:1 3fd:3:1:-130 400:16:1:80 410:32:1:32 460:17:2:1 48a:27:2:1 4c0:1:1:15 4c1:7:2:1 4d0:48:2:1 531:38:1:48 10a0:38:1:7264 10c7:1:1:7264 10cd:1:1:7264 13a0:80:1:38864 13f0:6:1:8 1c89:1:1:1 1c90:43:1:-3008 1cbd:3:1:-3008 1e00:75:2:1 1e9e:1:1:-7615 1ea0:48:2:1 1f08:8:1:-8 1f18:6:1:-8 1f28:8:1:-8 1f38:8:1:-8 1f48:6:1:-8 1f59:4:2:-8 1f68:8:1:-8 1f88:8:1:-8 1f98:8:1:-8 1fa8:8:1:-8 1fb8:2:1:-8 1fba:2:1:-74 1fbc:1:1:-9 1fc8:4:1:-86 1fcc:1:1:-9 1fd8:2:1:-8 1fda:2:1:-100 1fe8:2:1:-8 1fea:2:1:-112 1fec:1:1:-7 1ff8:2:1:-128 1ffa:2:1:-126 1ffc:1:1:-9 2126:1:1:-7517 212a:1:1:-8383 212b:1:1:-8262 2132:1:1:28 2160:16:1:16 2183:1:1:1 24b6:26:1:26 2c00:48:1:48 2c60:1:1:1 2c62:1:1:-10743 2c63:1:1:-3814 2c64:1:1:-10727 2c67:3:2:1 2c6d:1:1:-10780 2c6e:1:1:-10749 2c6f:1:1:-10783 2c70:1:1:-10782 2c72:1:1:1 2c75:1:1:1 2c7e:2:1:-10815 2c80:50:2:1 2ceb:2:2:1 2cf2:1:1:1 a640:23:2:1 a680:14:2:1 a722:7:2:1 a732:31:2:1 a779:2:2:1 a77d:1:1:-35332 a77e:5:2:1 a78b:1:1:1 a78d:1:1:-42280 a790:2:2:1 a796:10:2:1 a7aa:1:1:-42308 a7ab:1:1:-42319 a7ac:1:1:-42315 a7ad:1:1:-42305 a7ae:1:1:-42308 a7b0:1:1:-42258 a7b1:1:1:-42282 a7b2:1:1:-42261 a7b3:1:1:928 a7b4:8:2:1 a7c4:1:1:-48 a7c5:1:1:-42307 a7c6:1:1:-35384 a7c7:2:2:1 a7cb:1:1:-42343 a7cc:8:2:1 a7dc:1:1:-42561 a7f5:1:1:1 ff21:26:1:32 10400:40:1:40 104b0:36:1:40 10570:11:1:39 1057c:15:1:39 1058c:7:1:39 10594:2:1:39 10c80:51:1:64 10d50:22:1:32 118a0:32:1:32 16e40:32:1:32 16ea0:25:1:27 1e900:34:1:34",
 "lower_multi": {
  "130": "i\u0307"
 },
 "mn": "300-33f 342 345-36f 483-487 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-65f 670 6d6-6dc 6df-6e4 6e7-6e8 6ea-6ed 711 730-74a 7a6-7b0 7eb-7f3 816-819 81b-823 825-827 829-82d 859-85b 8e3-902 93a 93c 941-948 94d 951-957 962-963 981 9bc 9c1-9c4 9cd 9e2-9e3 a01-a02 a3c a41-a42 a47-a48 a4b-a4d a51 a70-a71 a75 a81-a82 abc ac1-ac5 ac7-ac8 acd ae2-ae3 b01 b3c b3f b41-b44 b4d b56 b62-b63 b82 bc0 bcd c00 c3e-c40 c46-c47 c4a-c4d c55-c56 c62-c63 c81 cbc cbf cc6 ccc-ccd ce2-ce3 d01 d41-d44 d4d d62-d63 dca dd2-dd4 dd6 e31 e34-e3a e47-e4e eb1 eb4-eb9 ebb-ebc ec8-ecd f18-f19 f35 f37 f39 f71-f72 f74 f77 f79-f7e f80 f82-f84 f86-f87 f8d-f92 f94-f97 f99-f9c f9e-fa1 fa3-fa6 fa8-fab fad-fb8 fba-fbc fc6 102d-1030 1032-1037 1039-103a 103d-103e 1058-1059 105e-1060 1071-1074 1082 1085-1086 108d 109d 135d-135f 1712-1714 1732-1734 1752-1753 1772-1773 17b4-17b5 17b7-17bd 17c6 17c9-17d3 17dd 180b-180d 18a9 1920-1922 1927-1928 1932 1939-193b 1a17-1a18 1a1b 1a56 1a58-1a5e 1a60 1a62 1a65-1a6c 1a73-1a7c 1a7f 1ab0-1abd 1b00-1b03 1b34 1b36-1b3a 1b3c 1b42 1b6b-1b73 1b80-1b81 1ba2-1ba5 1ba8-1ba9 1bab-1bad 1be6 1be8-1be9 1bed 1bef-1bf1 1c2c-1c33 1c36-1c37 1cd0-1cd2 1cd4-1ce0 1ce2-1ce8 1ced 1cf4 1cf8-1cf9 1dc0-1df5 1dfc-1dff 20d0-20dc 20e1 20e5-20f0 2cef-2cf1 2d7f 2de0-2dff 302a-302d 3099-309a a66f a674-a67d a69e-a69f a6f0-a6f1 a802 a806 a80b a825-a826 a8c4 a8e0-a8f1 a926-a92d a947-a951 a980-a982 a9b3 a9b6-a9b9 a9bc a9e5 aa29-aa2e aa31-aa32 aa35-aa36 aa43 aa4c aa7c aab0 aab2-aab4 aab7-aab8 aabe-aabf aac1 aaec-aaed aaf6 abe5 abe8 abed fb1e fe00-fe0f fe20-fe2f 101fd 102e0 10376-1037a 10a01-10a03 10a05-10a06 10a0c-10a0f 10a38-10a3a 10a3f 10ae5-10ae6 11001 11038-11046 1107f-11081 110b3-110b6 110b9-110ba 11100-11102 11127-1112b 1112d 11130-11134 11173 11180-11181 111b6-111be 111ca-111cc 1122f-11231 11234 11236-11237 112df 112e3-112ea 11300-11301 1133c 11340 11366-1136c 11370-11374 114b3-114b8 114ba 114bf-114c0 114c2-114c3 115b2-115b5 115bc-115bd 115bf-115c0 115dc-115dd 11633-1163a 1163d 1163f-11640 116ab 116ad 116b0-116b5 116b7 1171d-1171f 11722-11725 11727-1172b 16af0-16af4 16b30-16b36 16f8f-16f92 1bc9d-1bc9e 1d167-1d169 1d17b-1d182 1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1da00-1da36 1da3b-1da6c 1da75 1da84 1da9b-1da9f 1daa1-1daaf 1e8d0-1e8d6 e0100-e01ef",
 "nfd": "c0-c5 c7-cf d1-d6 d9-dd e0-e5 e7-ef f1-f6 f9-fd ff-10f 112-125 128-130 134-137 139-13e 143-148 14c-151 154-165 168-17e 1a0-1a1 1af-1b0 1cd-1dc 1de-1e3 1e6-1f0 1f4-1f5 1f8-21b 21e-21f 226-233 340-341 343-344 374 37e 385-38a 38c 38e-390 3aa-3b0 3ca-3ce 3d3-3d4 400-401 403 407 40c-40e 419 439 450-451 453 457 45c-45e 476-477 4c1-4c2 4d0-4d3 4d6-4d7 4da-4df 4e2-4e7 4ea-4f5 4f8-4f9 622-626 6c0 6c2 6d3 929 931 934 958-95f 9cb-9cc 9dc-9dd 9df a33 a36 a59-a5b a5e b48 b4b-b4c b5c-b5d b94 bca-bcc c48 cc0 cc7-cc8 cca-ccb d4a-d4c dda ddc-dde f43 f4d f52 f57 f5c f69 f73 f75-f76 f78 f81 f93 f9d fa2 fa7 fac fb9 1026 1b06 1b08 1b0a 1b0c 1b0e 1b12 1b3b 1b3d 1b40-1b41 1b43 1e00-1e99 1e9b 1ea0-1ef9 1f00-1f15 1f18-1f1d 1f20-1f45 1f48-1f4d 1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4 1fb6-1fbc 1fbe 1fc1-1fc4 1fc6-1fd3 1fd6-1fdb 1fdd-1fef 1ff2-1ff4 1ff6-1ffd 2000-2001 2126 212a-212b 219a-219b 21ae 21cd-21cf 2204 2209 220c 2224 2226 2241 2244 2247 2249 2260 2262 226d-2271 2274-2275 2278-2279 2280-2281 2284-2285 2288-2289 22ac-22af 22e0-22e3 22ea-22ed 2329-232a 2adc 304c 304e 3050 3052 3054 3056 3058 305a 305c 305e 3060 3062 3065 3067 3069 3070-3071 3073-3074 3076-3077 3079-307a 307c-307d 3094 309e 30ac 30ae 30b0 30b2 30b4 30b6 30b8 30ba 30bc 30be 30c0 30c2 30c5 30c7 30c9 30d0-30d1 30d3-30d4 30d6-30d7 30d9-30da 30dc-30dd 30f4 30f7-30fa 30fe ac00-d7a3 f900-fa0d fa10 fa12 fa15-fa1e fa20 fa22 fa25-fa26 fa2a-fa6d fa70-fad9 fb1d fb1f fb2a-fb36 fb38-fb3c fb3e fb40-fb41 fb43-fb44 fb46-fb4e 1109a 1109c 110ab 1112e-1112f 1134b-1134c 114bb-114bc 114be 115ba-115bb 1d15e-1d164 1d1bb-1d1c0 2f800-2fa1d",
 "nfkd": "a0 a8 aa af b2-b5 b8-ba bc-be c0-c5 c7-cf d1-d6 d9-dd e0-e5 e7-ef f1-f6 f9-fd ff-10f 112-125 128-130 132-137 139-140 143-149 14c-151 154-165 168-17f 1a0-1a1 1af-1b0 1c4-1dc 1de-1e3 1e6-1f5 1f8-21b 21e-21f 226-233 2b0-2b8 2d8-2dd 2e0-2e4 340-341 343-344 374 37a 37e 384-38a 38c 38e-390 3aa-3b0 3ca-3ce 3d0-3d6 3f0-3f2 3f4-3f5 3f9 400-401 403 407 40c-40e 419 439 450-451 453 457 45c-45e 476-477 4c1-4c2 4d0-4d3 4d6-4d7 4da-4df 4e2-4e7 4ea-4f5 4f8-4f9 587 622-626 675-678 6c0 6c2 6d3 929 931 934 958-95f 9cb-9cc 9dc-9dd 9df a33 a36 a59-a5b a5e b48 b4b-b4c b5c-b5d b94 bca-bcc c48 cc0 cc7-cc8 cca-ccb d4a-d4c dda ddc-dde e33 eb3 edc-edd f0c f43 f4d f52 f57 f5c f69 f73 f75-f79 f81 f93 f9d fa2 fa7 fac fb9 1026 10fc 1b06 1b08 1b0a 1b0c 1b0e 1b12 1b3b 1b3d 1b40-1b41 1b43 1d2c-1d2e 1d30-1d3a 1d3c-1d4d 1d4f-1d6a 1d78 1d9b-1dbf 1e00-1e9b 1ea0-1ef9 1f00-1f15 1f18-1f1d 1f20-1f45 1f48-1f4d 1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4 1fb6-1fc4 1fc6-1fd3 1fd6-1fdb 1fdd-1fef 1ff2-1ff4 1ff6-1ffe 2000-200a 2011 2017 2024-2026 202f 2033-2034 2036-2037 203c 203e 2047-2049 2057 205f 2070-2071 2074-208e 2090-209c 20a8 2100-2103 2105-2107 2109-2113 2115-2116 2119-211d 2120-2122 2124 2126 2128 212a-212d 212f-2131 2133-2139 213b-2140 2145-2149 2150-217f 2189 219a-219b 21ae 21cd-21cf 2204 2209 220c 2224 2226 222c-222d 222f-2230 2241 2244 2247 2249 2260 2262 226d-2271 2274-2275 2278-2279 2280-2281 2284-2285 2288-2289 22ac-22af 22e0-22e3 22ea-22ed 2329-232a 2460-24ea 2a0c 2a74-2a76 2adc 2c7c-2c7d 2d6f 2e9f 2ef3 2f00-2fd5 3000 3036 3038-303a 304c 304e 3050 3052 3054 3056 3058 305a 305c 305e 3060 3062 3065 3067 3069 3070-3071 3073-3074 3076-3077 3079-307a 307c-307d 3094 309b-309c 309e-309f 30ac 30ae 30b0 30b2 30b4 30b6 30b8 30ba 30bc 30be 30c0 30c2 30c5 30c7 30c9 30d0-30d1 30d3-30d4 30d6-30d7 30d9-30da 30dc-30dd 30f4 30f7-30fa 30fe-30ff 3131-318e 3192-319f 3200-321e 3220-3247 3250-327e 3280-32fe 3300-33ff a69c-a69d a770 a7f8-a7f9 ab5c-ab5f ac00-d7a3 f900-fa0d fa10 fa12 fa15-fa1e fa20 fa22 fa25-fa26 fa2a-fa6d fa70-fad9 fb00-fb06 fb13-fb17 fb1d fb1f-fb36 fb38-fb3c fb3e fb40-fb41 fb43-fb44 fb46-fbb1 fbd3-fd3d fd50-fd8f fd92-fdc7 fdf0-fdfc fe10-fe19 fe30-fe44 fe47-fe52 fe54-fe66 fe68-fe6b fe70-fe72 fe74 fe76-fefc ff01-ffbe ffc2-ffc7 ffca-ffcf ffd2-ffd7 ffda-ffdc ffe0-ffe6 ffe8-ffee 1109a 1109c 110ab 1112e-1112f 1134b-1134c 114bb-114bc 114be 115ba-115bb 1d15e-1d164 1d1bb-1d1c0 1d400-1d454 1d456-1d49c 1d49e-1d49f 1d4a2 1d4a5-1d4a6 1d4a9-1d4ac 1d4ae-1d4b9 1d4bb 1d4bd-1d4c3 1d4c5-1d505 1d507-1d50a 1d50d-1d514 1d516-1d51c 1d51e-1d539 1d53b-1d53e 1d540-1d544 1d546 1d54a-1d550 1d552-1d6a5 1d6a8-1d7cb 1d7ce-1d7ff 1ee00-1ee03 1ee05-1ee1f 1ee21-1ee22 1ee24 1ee27 1ee29-1ee32 1ee34-1ee37 1ee39 1ee3b 1ee42 1ee47 1ee49 1ee4b 1ee4d-1ee4f 1ee51-1ee52 1ee54 1ee57 1ee59 1ee5b 1ee5d 1ee5f 1ee61-1ee62 1ee64 1ee67-1ee6a 1ee6c-1ee72 1ee74-1ee77 1ee79-1ee7c 1ee7e 1ee80-1ee89 1ee8b-1ee9b 1eea1-1eea3 1eea5-1eea9 1eeab-1eebb 1f100-1f10a 1f110-1f12e 1f130-1f14f 1f16a-1f16b 1f190 1f200-1f202 1f210-1f23b 1f240-1f248 1f250-1f251 2f800-2fa1d",
 "num": "30-39 b2-b3 b9 bc-be 660-669 6f0-6f9 7c0-7c9 966-96f 9e6-9ef 9f4-9f9 a66-a6f ae6-aef b66-b6f b72-b77 be6-bf2 c66-c6f c78-c7e ce6-cef d58-d5e d66-d78 de6-def e50-e59 ed0-ed9 f20-f33 1040-1049 1090-1099 1369-137c 16ee-16f0 17e0-17e9 17f0-17f9 1810-1819 1946-194f 19d0-19da 1a80-1a89 1a90-1a99 1b50-1b59 1bb0-1bb9 1c40-1c49 1c50-1c59 2070 2074-2079 2080-2089 2150-2182 2185-2189 2460-249b 24ea-24ff 2776-2793 2cfd 3007 3021-3029 3038-303a 3192-3195 3220-3229 3248-324f 3251-325f 3280-3289 32b1-32bf a620-a629 a6e6-a6ef a830-a835 a8d0-a8d9 a900-a909 a9d0-a9d9 a9f0-a9f9 aa50-aa59 abf0-abf9 ff10-ff19 10107-10133 10140-10178 1018a-1018b 102e1-102fb 10320-10323 10341 1034a 103d1-103d5 104a0-104a9 10858-1085f 10879-1087f 108a7-108af 108fb-108ff 10916-1091b 109bc-109bd 109c0-109cf 109d2-109ff 10a40-10a48 10a7d-10a7e 10a9d-10a9f 10aeb-10aef 10b58-10b5f 10b78-10b7f 10ba9-10baf 10cfa-10cff 10d30-10d39 10d40-10d49 10e60-10e7e 10f1d-10f26 10f51-10f54 10fc5-10fcb 11052-1106f 110f0-110f9 11136-1113f 111d0-111d9 111e1-111f4 112f0-112f9 11450-11459 114d0-114d9 11650-11659 116c0-116c9 116d0-116e3 11730-1173b 118e0-118f2 11950-11959 11bf0-11bf9 11c50-11c6c 11d50-11d59 11da0-11da9 11de0-11de9 11f50-11f59 11fc0-11fd4 12400-1246e 16130-16139 16a60-16a69 16ac0-16ac9 16b50-16b59 16b5b-16b61 16d70-16d79 16e80-16e96 16ff4-16ff6 1ccf0-1ccf9 1d2c0-1d2d3 1d2e0-1d2f3 1d360-1d378 1d7ce-1d7ff 1e140-1e149 1e2f0-1e2f9 1e4f0-1e4f9 1e5f1-1e5fa 1e8c7-1e8cf 1e950-1e959 1ec71-1ecab 1ecad-1ecaf 1ecb1-1ecb4 1ed01-1ed2d 1ed2f-1ed3d 1f100-1f10c 1fbf0-1fbf9",
 "other": "0-8 b-c e-1f 7f-9f ad 600-605 61c 6dd 70f 180e 200b-200f 202a-202e 2060-2064 2066-206f e000-f8ff feff fff9-fffb fffd 110bd 1bca0-1bca3 1d173-1d17a e0001 e0020-e007f f0000-ffffd 100000-10fffd",
 "punct": "21-2f 3a-40 5b-60 7b-7e a1 a7 ab b6-b7 bb bf 37e 387 55a-55f 589-58a 5be 5c0 5c3 5c6 5f3-5f4 609-60a 60c-60d 61b 61e-61f 66a-66d 6d4 700-70d 7f7-7f9 830-83e 85e 964-965 970 af0 df4 e4f e5a-e5b f04-f12 f14 f3a-f3d f85 fd0-fd4 fd9-fda 104a-104f 10fb 1360-1368 1400 166d-166e 169b-169c 16eb-16ed 1735-1736 17d4-17d6 17d8-17da 1800-180a 1944-1945 1a1e-1a1f 1aa0-1aa6 1aa8-1aad 1b5a-1b60 1bfc-1bff 1c3b-1c3f 1c7e-1c7f 1cc0-1cc7 1cd3 2010-2027 2030-2043 2045-2051 2053-205e 207d-207e 208d-208e 2308-230b 2329-232a 2768-2775 27c5-27c6 27e6-27ef 2983-2998 29d8-29db 29fc-29fd 2cf9-2cfc 2cfe-2cff 2d70 2e00-2e2e 2e30-2e42 3001-3003 3008-3011 3014-301f 3030 303d 30a0 30fb a4fe-a4ff a60d-a60f a673 a67e a6f2-a6f7 a874-a877 a8ce-a8cf a8f8-a8fa a8fc a92e-a92f a95f a9c1-a9cd a9de-a9df aa5c-aa5f aade-aadf aaf0-aaf1 abeb fd3e-fd3f fe10-fe19 fe30-fe52 fe54-fe61 fe63 fe68 fe6a-fe6b ff01-ff03 ff05-ff0a ff0c-ff0f ff1a-ff1b ff1f-ff20 ff3b-ff3d ff3f ff5b ff5d ff5f-ff65 10100-10102 1039f 103d0 1056f 10857 1091f 1093f 10a50-10a58 10a7f 10af0-10af6 10b39-10b3f 10b99-10b9c 11047-1104d 110bb-110bc 110be-110c1 11140-11143 11174-11175 111c5-111c9 111cd 111db 111dd-111df 11238-1123d 112a9 114c6 115c1-115d7 11641-11643 1173c-1173e 12470-12474 16a6e-16a6f 16af5 16b37-16b3b 16b44 1bc9f 1da87-1da8b",
 "space": "9-d 20 85 a0 1680 2000-200a 2028-2029 202f 205f 3000",
 "version": "0.23.3",
 "word": "30-39 41-5a 5f 61-7a aa b5 ba c0-d6 d8-f6 f8-2c1 2c6-2d1 2e0-2e4 2ec 2ee 300-374 376-377 37a-37d 37f 386 388-38a 38c 38e-3a1 3a3-3f5 3f7-481 483-52f 531-556 559 560-588 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 5d0-5ea 5ef-5f2 610-61a 620-669 66e-6d3 6d5-6dc 6df-6e8 6ea-6fc 6ff 710-74a 74d-7b1 7c0-7f5 7fa 7fd 800-82d 840-85b 860-86a 870-887 889-88e 897-8e1 8e3-963 966-96f 971-983 985-98c 98f-990 993-9a8 9aa-9b0 9b2 9b6-9b9 9bc-9c4 9c7-9c8 9cb-9ce 9d7 9dc-9dd 9df-9e3 9e6-9f1 9fc 9fe a01-a03 a05-a0a a0f-a10 a13-a28 a2a-a30 a32-a33 a35-a36 a38-a39 a3c a3e-a42 a47-a48 a4b-a4d a51 a59-a5c a5e a66-a75 a81-a83 a85-a8d a8f-a91 a93-aa8 aaa-ab0 ab2-ab3 ab5-ab9 abc-ac5 ac7-ac9 acb-acd ad0 ae0-ae3 ae6-aef af9-aff b01-b03 b05-b0c b0f-b10 b13-b28 b2a-b30 b32-b33 b35-b39 b3c-b44 b47-b48 b4b-b4d b55-b57 b5c-b5d b5f-b63 b66-b6f b71 b82-b83 b85-b8a b8e-b90 b92-b95 b99-b9a b9c b9e-b9f ba3-ba4 ba8-baa bae-bb9 bbe-bc2 bc6-bc8 bca-bcd bd0 bd7 be6-bef c00-c0c c0e-c10 c12-c28 c2a-c39 c3c-c44 c46-c48 c4a-c4d c55-c56 c58-c5a c5d c60-c63 c66-c6f c80-c83 c85-c8c c8e-c90 c92-ca8 caa-cb3 cb5-cb9 cbc-cc4 cc6-cc8 cca-ccd cd5-cd6 cdd-cde ce0-ce3 ce6-cef cf1-cf3 d00-d0c d0e-d10 d12-d44 d46-d48 d4a-d4e d54-d57 d5f-d63 d66-d6f d7a-d7f d81-d83 d85-d96 d9a-db1 db3-dbb dbd dc0-dc6 dca dcf-dd4 dd6 dd8-ddf de6-def df2-df3 e01-e3a e40-e4e e50-e59 e81-e82 e84 e86-e8a e8c-ea3 ea5 ea7-ebd ec0-ec4 ec6 ec8-ece ed0-ed9 edc-edf f00 f18-f19 f20-f29 f35 f37 f39 f3e-f47 f49-f6c f71-f84 f86-f97 f99-fbc fc6 1000-1049 1050-109d 10a0-10c5 10c7 10cd 10d0-10fa 10fc-1248 124a-124d 1250-1256 1258 125a-125d 1260-1288 128a-128d 1290-12b0 12b2-12b5 12b8-12be 12c0 12c2-12c5 12c8-12d6 12d8-1310 1312-1315 1318-135a 135d-135f 1380-138f 13a0-13f5 13f8-13fd 1401-166c 166f-167f 1681-169a 16a0-16ea 16ee-16f8 1700-1715 171f-1734 1740-1753 1760-176c 176e-1770 1772-1773 1780-17d3 17d7 17dc-17dd 17e0-17e9 180b-180d 180f-1819 1820-1878 1880-18aa 18b0-18f5 1900-191e 1920-192b 1930-193b 1946-196d 1970-1974 1980-19ab 19b0-19c9 19d0-19d9 1a00-1a1b 1a20-1a5e 1a60-1a7c 1a7f-1a89 1a90-1a99 1aa7 1ab0-1ace 1b00-1b4c 1b50-1b59 1b6b-1b73 1b80-1bf3 1c00-1c37 1c40-1c49 1c4d-1c7d 1c80-1c8a 1c90-1cba 1cbd-1cbf 1cd0-1cd2 1cd4-1cfa 1d00-1f15 1f18-1f1d 1f20-1f45 1f48-1f4d 1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4 1fb6-1fbc 1fbe 1fc2-1fc4 1fc6-1fcc 1fd0-1fd3 1fd6-1fdb 1fe0-1fec 1ff2-1ff4 1ff6-1ffc 200c-200d 203f-2040 2054 2071 207f 2090-209c 20d0-20f0 2102 2107 210a-2113 2115 2119-211d 2124 2126 2128 212a-212d 212f-2139 213c-213f 2145-2149 214e 2160-2188 24b6-24e9 2c00-2ce4 2ceb-2cf3 2d00-2d25 2d27 2d2d 2d30-2d67 2d6f 2d7f-2d96 2da0-2da6 2da8-2dae 2db0-2db6 2db8-2dbe 2dc0-2dc6 2dc8-2dce 2dd0-2dd6 2dd8-2dde 2de0-2dff 2e2f 3005-3007 3021-302f 3031-3035 3038-303c 3041-3096 3099-309a 309d-309f 30a1-30fa 30fc-30ff 3105-312f 3131-318e 31a0-31bf 31f0-31ff 3400-4dbf 4e00-a48c a4d0-a4fd a500-a60c a610-a62b a640-a672 a674-a67d a67f-a6f1 a717-a71f a722-a788 a78b-a7cd a7d0-a7d1 a7d3 a7d5-a7dc a7f2-a827 a82c a840-a873 a880-a8c5 a8d0-a8d9 a8e0-a8f7 a8fb a8fd-a92d a930-a953 a960-a97c a980-a9c0 a9cf-a9d9 a9e0-a9fe aa00-aa36 aa40-aa4d aa50-aa59 aa60-aa76 aa7a-aac2 aadb-aadd aae0-aaef aaf2-aaf6 ab01-ab06 ab09-ab0e ab11-ab16 ab20-ab26 ab28-ab2e ab30-ab5a ab5c-ab69 ab70-abea abec-abed abf0-abf9 ac00-d7a3 d7b0-d7c6 d7cb-d7fb f900-fa6d fa70-fad9 fb00-fb06 fb13-fb17 fb1d-fb28 fb2a-fb36 fb38-fb3c fb3e fb40-fb41 fb43-fb44 fb46-fbb1 fbd3-fd3d fd50-fd8f fd92-fdc7 fdf0-fdfb fe00-fe0f fe20-fe2f fe33-fe34 fe4d-fe4f fe70-fe74 fe76-fefc ff10-ff19 ff21-ff3a ff3f ff41-ff5a ff66-ffbe ffc2-ffc7 ffca-ffcf ffd2-ffd7 ffda-ffdc 10000-1000b 1000d-10026 10028-1003a 1003c-1003d 1003f-1004d 10050-1005d 10080-100fa 10140-10174 101fd 10280-1029c 102a0-102d0 102e0 10300-1031f 1032d-1034a 10350-1037a 10380-1039d 103a0-103c3 103c8-103cf 103d1-103d5 10400-1049d 104a0-104a9 104b0-104d3 104d8-104fb 10500-10527 10530-10563 10570-1057a 1057c-1058a 1058c-10592 10594-10595 10597-105a1 105a3-105b1 105b3-105b9 105bb-105bc 105c0-105f3 10600-10736 10740-10755 10760-10767 10780-10785 10787-107b0 107b2-107ba 10800-10805 10808 1080a-10835 10837-10838 1083c 1083f-10855 10860-10876 10880-1089e 108e0-108f2 108f4-108f5 10900-10915 10920-10939 10980-109b7 109be-109bf 10a00-10a03 10a05-10a06 10a0c-10a13 10a15-10a17 10a19-10a35 10a38-10a3a 10a3f 10a60-10a7c 10a80-10a9c 10ac0-10ac7 10ac9-10ae6 10b00-10b35 10b40-10b55 10b60-10b72 10b80-10b91 10c00-10c48 10c80-10cb2 10cc0-10cf2 10d00-10d27 10d30-10d39 10d40-10d65 10d69-10d6d 10d6f-10d85 10e80-10ea9 10eab-10eac 10eb0-10eb1 10ec2-10ec4 10efc-10f1c 10f27 10f30-10f50 10f70-10f85 10fb0-10fc4 10fe0-10ff6 11000-11046 11066-11075 1107f-110ba 110c2 110d0-110e8 110f0-110f9 11100-11134 11136-1113f 11144-11147 11150-11173 11176 11180-111c4 111c9-111cc 111ce-111da 111dc 11200-11211 11213-11237 1123e-11241 11280-11286 11288 1128a-1128d 1128f-1129d 1129f-112a8 112b0-112ea 112f0-112f9 11300-11303 11305-1130c 1130f-11310 11313-11328 1132a-11330 11332-11333 11335-11339 1133b-11344 11347-11348 1134b-1134d 11350 11357 1135d-11363 11366-1136c 11370-11374 11380-11389 1138b 1138e 11390-113b5 113b7-113c0 113c2 113c5 113c7-113ca 113cc-113d3 113e1-113e2 11400-1144a 11450-11459 1145e-11461 11480-114c5 114c7 114d0-114d9 11580-115b5 115b8-115c0 115d8-115dd 11600-11640 11644 11650-11659 11680-116b8 116c0-116c9 116d0-116e3 11700-1171a 1171d-1172b 11730-11739 11740-11746 11800-1183a 118a0-118e9 118ff-11906 11909 1190c-11913 11915-11916 11918-11935 11937-11938 1193b-11943 11950-11959 119a0-119a7 119aa-119d7 119da-119e1 119e3-119e4 11a00-11a3e 11a47 11a50-11a99 11a9d 11ab0-11af8 11bc0-11be0 11bf0-11bf9 11c00-11c08 11c0a-11c36 11c38-11c40 11c50-11c59 11c72-11c8f 11c92-11ca7 11ca9-11cb6 11d00-11d06 11d08-11d09 11d0b-11d36 11d3a 11d3c-11d3d 11d3f-11d47 11d50-11d59 11d60-11d65 11d67-11d68 11d6a-11d8e 11d90-11d91 11d93-11d98 11da0-11da9 11ee0-11ef6 11f00-11f10 11f12-11f3a 11f3e-11f42 11f50-11f5a 11fb0 12000-12399 12400-1246e 12480-12543 12f90-12ff0 13000-1342f 13440-13455 13460-143fa 14400-14646 16100-16139 16800-16a38 16a40-16a5e 16a60-16a69 16a70-16abe 16ac0-16ac9 16ad0-16aed 16af0-16af4 16b00-16b36 16b40-16b43 16b50-16b59 16b63-16b77 16b7d-16b8f 16d40-16d6c 16d70-16d79 16e40-16e7f 16f00-16f4a 16f4f-16f87 16f8f-16f9f 16fe0-16fe1 16fe3-16fe4 16ff0-16ff1 17000-187f7 18800-18cd5 18cff-18d08 1aff0-1aff3 1aff5-1affb 1affd-1affe 1b000-1b122 1b132 1b150-1b152 1b155 1b164-1b167 1b170-1b2fb 1bc00-1bc6a 1bc70-1bc7c 1bc80-1bc88 1bc90-1bc99 1bc9d-1bc9e 1ccf0-1ccf9 1cf00-1cf2d 1cf30-1cf46 1d165-1d169 1d16d-1d172 1d17b-1d182 1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1d400-1d454 1d456-1d49c 1d49e-1d49f 1d4a2 1d4a5-1d4a6 1d4a9-1d4ac 1d4ae-1d4b9 1d4bb 1d4bd-1d4c3 1d4c5-1d505 1d507-1d50a 1d50d-1d514 1d516-1d51c 1d51e-1d539 1d53b-1d53e 1d540-1d544 1d546 1d54a-1d550 1d552-1d6a5 1d6a8-1d6c0 1d6c2-1d6da 1d6dc-1d6fa 1d6fc-1d714 1d716-1d734 1d736-1d74e 1d750-1d76e 1d770-1d788 1d78a-1d7a8 1d7aa-1d7c2 1d7c4-1d7cb 1d7ce-1d7ff 1da00-1da36 1da3b-1da6c 1da75 1da84 1da9b-1da9f 1daa1-1daaf 1df00-1df1e 1df25-1df2a 1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e030-1e06d 1e08f 1e100-1e12c 1e130-1e13d 1e140-1e149 1e14e 1e290-1e2ae 1e2c0-1e2f9 1e4d0-1e4f9 1e5d0-1e5fa 1e7e0-1e7e6 1e7e8-1e7eb 1e7ed-1e7ee 1e7f0-1e7fe 1e800-1e8c4 1e8d0-1e8d6 1e900-1e94b 1e950-1e959 1ee00-1ee03 1ee05-1ee1f 1ee21-1ee22 1ee24 1ee27 1ee29-1ee32 1ee34-1ee37 1ee39 1ee3b 1ee42 1ee47 1ee49 1ee4b 1ee4d-1ee4f 1ee51-1ee52 1ee54 1ee57 1ee59 1ee5b 1ee5d 1ee5f 1ee61-1ee62 1ee64 1ee67-1ee6a 1ee6c-1ee72 1ee74-1ee77 1ee79-1ee7c 1ee7e 1ee80-1ee89 1ee8b-1ee9b 1eea1-1eea3 1eea5-1eea9 1eeab-1eebb 1f130-1f149 1f150-1f169 1f170-1f189 1fbf0-1fbf9 20000-2a6df 2a700-2b739 2b740-2b81d 2b820-2cea1 2ceb0-2ebe0 2ebf0-2ee5d 2f800-2fa1d 30000-3134a 31350-323af e0100-e01ef"
};
// END GENERATED TABLES

const F_OTHER = 1, F_SPACE = 2, F_PUNCT = 4, F_WORD = 8, F_NUM = 16, F_COMB = 32, F_MN = 64, F_NFD = 128, F_NFKD = 256;
const TABLE_FLAGS = [['other', F_OTHER], ['space', F_SPACE], ['punct', F_PUNCT], ['word', F_WORD], ['num', F_NUM],
  ['comb', F_COMB], ['mn', F_MN], ['nfd', F_NFD], ['nfkd', F_NFKD]];
const BMP = new Uint16Array(0x10000); // flags for the BMP; astral code points go through ASTRAL ranges
const ASTRAL = []; // [flag, starts[], ends[]]
for (const [key, flag] of TABLE_FLAGS) {
  const starts = [], ends = [];
  for (const part of TABLES[key].split(' ')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = parseInt(a, 16), hi = parseInt(b ?? a, 16);
    for (let cp = lo; cp <= Math.min(hi, 0xffff); cp++) BMP[cp] |= flag;
    if (hi > 0xffff) { starts.push(Math.max(lo, 0x10000)); ends.push(hi); }
  }
  ASTRAL.push([flag, starts, ends]);
}
const astralMemo = new Map();
function flagsOf(cp) {
  if (cp < 0x10000) return BMP[cp];
  let f = astralMemo.get(cp);
  if (f !== undefined) return f;
  f = 0;
  for (const [flag, starts, ends] of ASTRAL) {
    let lo = 0, hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] > cp) hi = mid - 1;
      else if (ends[mid] < cp) lo = mid + 1;
      else { f |= flag; break; }
    }
  }
  if (astralMemo.size < 65536) astralMemo.set(cp, f);
  return f;
}
const has = (c, flag) => (flagsOf(c.codePointAt(0)) & flag) !== 0;

const LOWER = new Map(); // Rust char::to_lowercase, per character (no final-sigma rule)
for (const part of TABLES.lower.split(' ')) {
  const [s, n, step, delta] = part.split(':');
  const start = parseInt(s, 16);
  for (let k = 0; k < +n; k++) {
    const cp = start + k * +step;
    LOWER.set(String.fromCodePoint(cp), String.fromCodePoint(cp + +delta));
  }
}
for (const [cp, v] of Object.entries(TABLES.lower_multi)) LOWER.set(String.fromCodePoint(parseInt(cp, 16)), v);

const CCC = new Map();
for (const part of TABLES.ccc.split(' ')) {
  const [r, k] = part.split(':');
  const [a, b] = r.split('-');
  for (let cp = parseInt(a, 16); cp <= parseInt(b, 16); cp++) CCC.set(String.fromCodePoint(cp), +k);
}
const ccc = (c) => CCC.get(c) ?? 0;

// BertNormalizer's CJK ranges exactly as the reference has them, including its 0x2B920 start of
// Extension E (the Unicode block starts at 0x2B820; characters in between are not padded).
function isChinese(c) {
  const cp = c.codePointAt(0);
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f);
}

const composeMemo = new Map();
function composePair(a, b) {
  const key = a + '\u0000' + b;
  let r = composeMemo.get(key);
  if (r !== undefined) return r;
  const nfc = (a + b).normalize('NFC');
  const cps = Array.from(nfc);
  r = cps.length === 1 && has(nfc, F_NFD) && nfc.normalize('NFD') === (a + b).normalize('NFD') ? nfc : null;
  composeMemo.set(key, r);
  return r;
}

function isAscii(chars) {
  for (const c of chars) if (c.charCodeAt(0) > 0x7f) return false;
  return true;
}

// ---- spec reading with JSON paths ---------------------------------------------------------------
function kindOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return { boolean: 'a boolean', number: 'a number', string: 'a string', object: 'an object' }[typeof v] ?? typeof v;
}

class Ctx {
  constructor(source, path = '') { this.source = source; this.path = path; }
  at(key) {
    return new Ctx(this.source, typeof key === 'number' ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key);
  }
  error(msg) {
    // `path "Value" is not supported` / `path is required` read as one phrase; others follow a colon.
    const sep = (msg.startsWith('"') || msg.startsWith('is ')) && this.path ? ' ' : ': ';
    return new TokenizerSpecError(`${this.path ? `${this.source}: ${this.path}` : this.source}${sep}${msg}`);
  }
  obj(v) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.error(`expected an object, got ${kindOf(v)}`);
    return v;
  }
  get(obj, key, kind, dflt = undefined, nullable = false) {
    if (!(key in obj)) {
      if (dflt === undefined) throw this.at(key).error('is required');
      return dflt;
    }
    const v = obj[key];
    if (v === null && nullable) return null;
    const ok = kind === 'int' ? Number.isInteger(v) : kind === 'array' ? Array.isArray(v)
      : kind === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v) : typeof v === kind;
    if (!ok) {
      const want = { int: 'an integer', array: 'an array', object: 'an object', string: 'a string', boolean: 'a boolean' }[kind];
      throw this.at(key).error(`expected ${want}, got ${kindOf(v)}`);
    }
    return v;
  }
  typeOf(obj, supported) {
    const t = obj.type;
    if (!supported.includes(t)) {
      const shown = typeof t === 'string' ? `"${t}"` : 'type' in obj ? kindOf(t) : 'missing';
      throw this.at('type').error(`${shown} is not supported; supported: ${supported.join(', ')}`);
    }
    return t;
  }
}

// ---- NormalizedString --------------------------------------------------------------------------
// chars: code points; starts/ends: their span in the ORIGINAL input (code points). Alignment rules
// are tokenizers' transform_range: an inserted char (change > 0) takes the span of the previous
// input char; others take the span of the char they replace; change < 0 swallows more input chars.
class NormalizedString {
  constructor(chars, starts, ends) { this.chars = chars; this.starts = starts; this.ends = ends; }
  static fromChars(chars) {
    const n = chars.length, starts = new Array(n), ends = new Array(n);
    for (let i = 0; i < n; i++) { starts[i] = i; ends[i] = i + 1; }
    return new NormalizedString(chars.slice(), starts, ends); // normalizers may edit chars in place
  }
  get length() { return this.chars.length; }
  text() { return this.chars.join(''); }
  slice(a, b) { return new NormalizedString(this.chars.slice(a, b), this.starts.slice(a, b), this.ends.slice(a, b)); }
  span(a, b) { return [this.starts[a], this.ends[b - 1]]; }
  transform(newChars, changes) { // parallel arrays: output chars and their change values
    const chars = newChars, starts = new Array(chars.length), ends = new Array(chars.length);
    let idx = 0;
    for (let k = 0; k < chars.length; k++) {
      const change = changes[k];
      let s, e;
      if (change > 0) {
        if (idx >= 1) { s = this.starts[idx - 1]; e = this.ends[idx - 1]; } else { s = 0; e = 0; }
      } else {
        s = this.starts[idx]; e = this.ends[idx];
        idx += 1 - change;
      }
      starts[k] = s; ends[k] = e;
    }
    this.chars = chars; this.starts = starts; this.ends = ends;
  }
  filter(keep) {
    if (this.chars.every(keep)) return;
    const chars = [], starts = [], ends = [];
    this.chars.forEach((c, i) => { if (keep(c)) { chars.push(c); starts.push(this.starts[i]); ends.push(this.ends[i]); } });
    this.chars = chars; this.starts = starts; this.ends = ends;
  }
  replace(pattern, content) {
    const pat = Array.from(pattern), rep = Array.from(content);
    const n = this.chars.length, m = pat.length;
    if (!m) return;
    const chars = [], starts = [], ends = [];
    let i = 0, changed = false;
    while (i < n) {
      let hit = i + m <= n;
      for (let k = 0; hit && k < m; k++) if (this.chars[i + k] !== pat[k]) hit = false;
      if (hit) {
        changed = true;
        const s = this.starts[i + m - 1], e = this.ends[i + m - 1];
        for (const c of rep) { chars.push(c); starts.push(s); ends.push(e); }
        i += m;
      } else {
        chars.push(this.chars[i]); starts.push(this.starts[i]); ends.push(this.ends[i]);
        i++;
      }
    }
    if (changed) { this.chars = chars; this.starts = starts; this.ends = ends; }
  }
}

// ---- normalizers -------------------------------------------------------------------------------
const ASCII_LOWER = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i).toLowerCase());

function lowercase(ns) {
  let multi = false, changed = false;
  const out = ns.chars.map((c) => {
    const u = c.charCodeAt(0);
    if (u < 128) {
      if (u >= 65 && u <= 90) { changed = true; return ASCII_LOWER[u]; }
      return c;
    }
    const m = LOWER.get(c);
    if (m === undefined) return c;
    changed = true;
    if (m.length > 2 || Array.from(m).length > 1) multi = true;
    return m;
  });
  if (!changed) return;
  if (!multi) { ns.chars = out; return; }
  const chars = [], changes = [];
  for (const m of out) Array.from(m).forEach((x, k) => { chars.push(x); changes.push(k ? 1 : 0); });
  ns.transform(chars, changes);
}

function decomposed(input, compat) {
  const chars = [], changes = [];
  const flag = compat ? F_NFKD : F_NFD;
  let marks = false;
  for (const c of input) {
    if (!has(c, flag)) {
      chars.push(c); changes.push(0);
      if (!marks && CCC.has(c)) marks = true;
      continue;
    }
    Array.from(c.normalize(compat ? 'NFKD' : 'NFD')).forEach((x, k) => {
      chars.push(x); changes.push(k ? 1 : 0);
      if (!marks && CCC.has(x)) marks = true;
    });
  }
  // canonical ordering: stable sort of each run of non-starters; changes travel with their chars
  for (let i = 0; marks && i < chars.length;) {
    if (ccc(chars[i]) === 0) { i++; continue; }
    let j = i;
    while (j < chars.length && ccc(chars[j]) !== 0) j++;
    if (j - i > 1) {
      const run = [];
      for (let k = i; k < j; k++) run.push([chars[k], changes[k], k]);
      run.sort((x, y) => ccc(x[0]) - ccc(y[0]) || x[2] - y[2]);
      run.forEach(([c, chg], k) => { chars[i + k] = c; changes[i + k] = chg; });
    }
    i = j;
  }
  return [chars, changes];
}

function composed([chars, changes]) {
  const outC = [], outG = [];
  let starter = -1, lastCcc = -1;
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k], chg = changes[k], cc = ccc(c);
    if (starter >= 0 && (lastCcc === -1 || lastCcc < cc)) {
      const comp = composePair(outC[starter], c);
      if (comp !== null) { outC[starter] = comp; outG[starter] += chg - 1; continue; }
    }
    if (cc === 0) { starter = outC.length; lastCcc = -1; } else lastCcc = cc;
    outC.push(c); outG.push(chg);
  }
  return [outC, outG];
}

function unicodeNormalize(ns, form) {
  if (isAscii(ns.chars)) return;
  const text = ns.text();
  if (text.normalize(form) === text) return; // host says already normalized (a superset of the reference's forms)
  let seq = decomposed(ns.chars, form === 'NFKD' || form === 'NFKC');
  if (form === 'NFC' || form === 'NFKC') seq = composed(seq);
  ns.transform(seq[0], seq[1]);
}

class BertNormalizer {
  constructor(cleanText, chinese, stripAccents, lower) {
    this.cleanText = cleanText; this.chinese = chinese; this.lower = lower;
    this.stripAccents = stripAccents === null ? lower : stripAccents; // null: follow lowercase
  }
  normalize(ns) {
    if (this.cleanText) {
      ns.filter((c) => !has(c, F_OTHER));
      const chars = ns.chars;
      for (let i = 0; i < chars.length; i++) if (chars[i] !== ' ' && has(chars[i], F_SPACE)) chars[i] = ' ';
    }
    if (this.chinese && !isAscii(ns.chars) && ns.chars.some(isChinese)) {
      const chars = [], changes = [];
      for (const c of ns.chars) {
        if (isChinese(c)) { chars.push(' ', c, ' '); changes.push(0, 1, 1); } else { chars.push(c); changes.push(0); }
      }
      ns.transform(chars, changes);
    }
    if (this.stripAccents && !isAscii(ns.chars)) {
      unicodeNormalize(ns, 'NFD');
      ns.filter((c) => !has(c, F_MN));
    }
    if (this.lower) lowercase(ns);
  }
}

const NORMALIZERS = ['BertNormalizer', 'Lowercase', 'NFC', 'NFD', 'NFKC', 'NFKD', 'StripAccents', 'Strip', 'Replace', 'Sequence'];

function normalizerFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const t = ctx.typeOf(obj, NORMALIZERS);
  switch (t) {
    case 'BertNormalizer':
      return new BertNormalizer(ctx.get(obj, 'clean_text', 'boolean', true), ctx.get(obj, 'handle_chinese_chars', 'boolean', true),
        ctx.get(obj, 'strip_accents', 'boolean', null, true), ctx.get(obj, 'lowercase', 'boolean', true));
    case 'Lowercase': return { normalize: lowercase };
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return { normalize: (ns) => unicodeNormalize(ns, t) };
    case 'StripAccents': return { normalize: (ns) => { if (!isAscii(ns.chars)) ns.filter((c) => !has(c, F_COMB)); } };
    case 'Strip': {
      const left = ctx.get(obj, 'strip_left', 'boolean', true), right = ctx.get(obj, 'strip_right', 'boolean', true);
      return {
        normalize(ns) {
          let a = 0, b = ns.length;
          if (left) while (a < b && has(ns.chars[a], F_SPACE)) a++;
          if (right) while (b > a && has(ns.chars[b - 1], F_SPACE)) b--;
          if (a !== 0 || b !== ns.length) { const s = ns.slice(a, b); ns.chars = s.chars; ns.starts = s.starts; ns.ends = s.ends; }
        },
      };
    }
    case 'Replace': {
      const pat = ctx.get(obj, 'pattern', 'object');
      const pctx = ctx.at('pattern');
      if (!('String' in pat)) {
        const kinds = Object.keys(pat).map((k) => `"${k}"`).join(', ') || 'nothing';
        throw pctx.error(`${kinds} is not supported; supported: String (Regex patterns are not)`);
      }
      const pattern = pctx.get(pat, 'String', 'string'), content = ctx.get(obj, 'content', 'string');
      return { normalize: (ns) => ns.replace(pattern, content) };
    }
    default: {
      const items = ctx.get(obj, 'normalizers', 'array').map((x, i) => normalizerFromSpec(ctx.at('normalizers').at(i).obj(x), ctx.at('normalizers').at(i)));
      return { normalize: (ns) => { for (const n of items) n.normalize(ns); } };
    }
  }
}

// ---- pre-tokenizers ----------------------------------------------------------------------------
// Pre-tokenizers never change characters, so a pre-token is just a span [a, b) of the normalized
// piece: they push span pairs onto `out` (flat [a0, b0, a1, b1, ...]) instead of copying strings.
const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

function charMatches(chars, a, b, flag) { // tokenizers' Fn(char) pattern: each matching char is one match
  if (a === b) return [[a, a, false]];
  const out = [];
  let last = a;
  for (let i = a; i < b; i++) {
    if (has(chars[i], flag)) {
      if (last < i) out.push([last, i, false]);
      out.push([i, i + 1, true]);
      last = i + 1;
    }
  }
  if (last < b) out.push([last, b, false]);
  return out;
}

function applyBehavior(matches, behavior) {
  if (behavior === 'Removed') return matches.filter((m) => !m[2]);
  if (behavior === 'Isolated') return matches;
  const acc = [];
  let prev = false;
  if (behavior === 'MergedWithPrevious') {
    for (const [a, b, m] of matches) {
      if (m && !prev && acc.length) acc[acc.length - 1][1] = b; else acc.push([a, b]);
      prev = m;
    }
  } else if (behavior === 'MergedWithNext') {
    for (let k = matches.length - 1; k >= 0; k--) {
      const [a, b, m] = matches[k];
      if (m && !prev && acc.length) acc[acc.length - 1][0] = a; else acc.push([a, b]);
      prev = m;
    }
    acc.reverse();
  } else {
    for (const [a, b, m] of matches) {
      if (m === prev && acc.length) acc[acc.length - 1][1] = b; else acc.push([a, b]);
      prev = m;
    }
  }
  return acc;
}

function whitespaceSplit(chars, a, b, out) {
  let start = -1;
  for (let i = a; i < b; i++) {
    if (flagsOf(chars[i].codePointAt(0)) & F_SPACE) {
      if (start >= 0) { out.push(start, i); start = -1; }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(start, b);
}

function whitespaceRegex(chars, a, b, out) { // \w+|[^\w\s]+
  let start = -1, kind = 0; // 1 word, 2 other
  for (let i = a; i <= b; i++) {
    let k = 0;
    if (i < b) {
      const f = flagsOf(chars[i].codePointAt(0));
      k = f & F_WORD ? 1 : f & F_SPACE ? 0 : 2;
    }
    if (k !== kind) {
      if (kind) out.push(start, i);
      start = i; kind = k;
    }
  }
}

// WhitespaceSplit then Punctuation(Isolated), fused into one pass.
function bertPreTokenize(chars, a, b, out) {
  let start = -1;
  for (let i = a; i < b; i++) {
    const f = flagsOf(chars[i].codePointAt(0));
    if (f & (F_SPACE | F_PUNCT)) {
      if (start >= 0) { out.push(start, i); start = -1; }
      if (!(f & F_SPACE)) out.push(i, i + 1);
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(start, b);
}

const byFlag = (flag, behavior) => (chars, a, b, out) => {
  let any = false;
  for (let i = a; i < b && !any; i++) any = has(chars[i], flag);
  if (!any) { if (b > a) out.push(a, b); return; }
  for (const [s, e] of applyBehavior(charMatches(chars, a, b, flag), behavior)) if (e > s) out.push(s, e);
};
const PRE_TOKENIZERS = ['Whitespace', 'WhitespaceSplit', 'BertPreTokenizer', 'Punctuation', 'Digits', 'Sequence'];

function preTokenizerFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  switch (ctx.typeOf(obj, PRE_TOKENIZERS)) {
    case 'Whitespace': return whitespaceRegex;
    case 'WhitespaceSplit': return whitespaceSplit;
    case 'BertPreTokenizer': return bertPreTokenize;
    case 'Punctuation': {
      const b = ctx.get(obj, 'behavior', 'string', 'Isolated');
      if (!BEHAVIORS.includes(b)) throw ctx.at('behavior').error(`"${b}" is not supported; supported: ${BEHAVIORS.join(', ')}`);
      return byFlag(F_PUNCT, b);
    }
    case 'Digits': return byFlag(F_NUM, ctx.get(obj, 'individual_digits', 'boolean', false) ? 'Isolated' : 'Contiguous');
    default: {
      const items = ctx.get(obj, 'pretokenizers', 'array').map((x, i) => preTokenizerFromSpec(ctx.at('pretokenizers').at(i).obj(x), ctx.at('pretokenizers').at(i)));
      return (chars, a, b, out) => {
        let spans = [a, b];
        for (const p of items) {
          const next = [];
          for (let k = 0; k < spans.length; k += 2) p(chars, spans[k], spans[k + 1], next);
          spans = next;
        }
        for (const x of spans) out.push(x);
      };
    }
  }
}

// ---- models ------------------------------------------------------------------------------------
// tokenize(chars, a, b, sink): the word is chars[a..b); sink(id, token, start, end) with indices into chars.
function vocabOf(obj, ctx) {
  const vocab = ctx.get(obj, 'vocab', 'object');
  const map = new Map();
  for (const [k, v] of Object.entries(vocab)) {
    if (!Number.isInteger(v) || v < 0) throw ctx.at('vocab').error(`id of ${JSON.stringify(k)} must be a non-negative integer, got ${JSON.stringify(v)}`);
    map.set(k, v);
  }
  return map;
}

class WordLevel {
  constructor(vocab, unkToken) { this.vocab = vocab; this.unkToken = unkToken; }
  tokenize(chars, a, b, sink) {
    const text = b - a === 1 ? chars[a] : chars.slice(a, b).join('');
    const id = this.vocab.get(text);
    if (id !== undefined) { sink(id, text, a, b); return; }
    const unk = this.unkToken === null ? undefined : this.vocab.get(this.unkToken);
    if (unk === undefined) {
      throw new TokenizerSpecError(`WordLevel: ${JSON.stringify(text)} is not in the vocabulary and unk_token ${JSON.stringify(this.unkToken)} is not in it either; add the unk token to model.vocab`);
    }
    sink(unk, this.unkToken, a, b);
  }
}

class WordPiece {
  constructor(vocab, unkToken, prefix, maxChars) {
    this.vocab = vocab; this.unkToken = unkToken; this.prefix = prefix; this.maxChars = maxChars;
    this.tries = null; // built on first use
  }
  // Two code-point tries (every entry; entries after the ## prefix) turn the reference's
  // "longest vocabulary entry starting here" search into one walk: same answer, no substring churn.
  buildTries() {
    const first = new Map(), cont = new Map();
    const add = (root, text, id) => {
      let node = root;
      for (const c of text) {
        const cp = c.codePointAt(0);
        let next = node.get(cp);
        if (!next) { next = new Map(); node.set(cp, next); }
        node = next;
      }
      node.id = id;
    };
    for (const [tok, id] of this.vocab) {
      add(first, tok, id);
      if (tok.startsWith(this.prefix)) add(cont, tok.slice(this.prefix.length), id);
    }
    this.tries = [first, cont];
  }
  unkId() {
    const id = this.vocab.get(this.unkToken);
    if (id === undefined) throw new TokenizerSpecError(`WordPiece: unk_token ${JSON.stringify(this.unkToken)} is not in model.vocab; add it`);
    return id;
  }
  tokenize(chars, a, b, sink) {
    if (b - a > this.maxChars) { sink(this.unkId(), this.unkToken, a, b); return; }
    if (!this.tries) this.buildTries();
    const found = [];
    let start = a;
    while (start < b) {
      let node = this.tries[start > a ? 1 : 0], end = -1, id = -1;
      for (let i = start; i < b; i++) {
        node = node.get(chars[i].codePointAt(0));
        if (!node) break;
        if (node.id !== undefined) { end = i + 1; id = node.id; }
      }
      if (end < 0) { sink(this.unkId(), this.unkToken, a, b); return; }
      found.push(id, start, end);
      start = end;
    }
    for (let k = 0; k < found.length; k += 3) {
      const s = found[k + 1], e = found[k + 2];
      const piece = e - s === 1 ? chars[s] : chars.slice(s, e).join('');
      sink(found[k], s > a ? this.prefix + piece : piece, s, e);
    }
  }
}

function modelFromSpec(obj, ctx) {
  obj = ctx.obj(obj);
  const t = ctx.typeOf(obj, ['WordLevel', 'WordPiece']);
  const vocab = vocabOf(obj, ctx);
  if (t === 'WordLevel') return new WordLevel(vocab, ctx.get(obj, 'unk_token', 'string', null, true));
  return new WordPiece(vocab, ctx.get(obj, 'unk_token', 'string', '[UNK]'), ctx.get(obj, 'continuing_subword_prefix', 'string', '##'),
    ctx.get(obj, 'max_input_chars_per_word', 'int', 100));
}

// ---- Encoding ----------------------------------------------------------------------------------
const FIELDS = ['ids', 'typeIds', 'tokens', 'offsets', 'codePointOffsets', 'attentionMask', 'specialTokensMask'];

export class Encoding {
  constructor(init = {}) {
    for (const f of FIELDS) this[f] = init[f] ?? [];
  }
  get length() { return this.ids.length; }
  /** The CLI / golden-file form (snake_case keys, code-point offsets like the reference). */
  toJSON() {
    return {
      ids: this.ids, attention_mask: this.attentionMask, token_type_ids: this.typeIds,
      special_tokens_mask: this.specialTokensMask, tokens: this.tokens, offsets: this.codePointOffsets,
    };
  }
  extend(other) {
    for (const f of FIELDS) {
      const dst = this[f], src = other[f];
      for (let k = 0; k < src.length; k++) dst.push(src[k]);
    }
  }
  truncate(maxLen, direction) {
    if (this.ids.length <= maxLen) return;
    for (const f of FIELDS) this[f] = direction === 'Right' ? this[f].slice(0, maxLen) : maxLen ? this[f].slice(this[f].length - maxLen) : [];
  }
  pad(length, padId, padTypeId, padToken, direction) {
    const n = length - this.ids.length;
    if (n <= 0) return;
    const fill = { ids: padId, typeIds: padTypeId, tokens: padToken, attentionMask: 0, specialTokensMask: 1 };
    for (const f of FIELDS) {
      const add = Array.from({ length: n }, () => (f in fill ? fill[f] : [0, 0]));
      this[f] = direction === 'Right' ? this[f].concat(add) : add.concat(this[f]);
    }
  }
}

function specialEncoding(ids, tokens, typeId) {
  const e = new Encoding();
  for (let k = 0; k < ids.length; k++) {
    e.ids.push(ids[k]); e.typeIds.push(typeId); e.tokens.push(tokens[k]); e.offsets.push([0, 0]);
    e.codePointOffsets.push([0, 0]); e.attentionMask.push(1); e.specialTokensMask.push(1);
  }
  return e;
}

// ---- post-processors, truncation, padding -------------------------------------------------------
function concatDefault(a, b) { if (b) a.extend(b); return a; }

class BertProcessing {
  constructor(sep, cls) { this.sep = sep; this.cls = cls; }
  addedTokens(isPair) { return isPair ? 3 : 2; }
  process(a, b, addSpecial) {
    if (!addSpecial) return concatDefault(a, b);
    const out = specialEncoding([this.cls[1]], [this.cls[0]], 0);
    a.typeIds = Array(a.length).fill(0);
    out.extend(a);
    out.extend(specialEncoding([this.sep[1]], [this.sep[0]], 0));
    if (b) {
      b.typeIds = Array(b.length).fill(1);
      out.extend(b);
      out.extend(specialEncoding([this.sep[1]], [this.sep[0]], 1));
    }
    return out;
  }
}

class TemplateProcessing {
  constructor(single, pair, special) { this.single = single; this.pair = pair; this.special = special; }
  addedTokens(isPair) {
    return (isPair ? this.pair : this.single).reduce((n, [kind, id]) => n + (kind === 'SpecialToken' ? this.special.get(id)[0].length : 0), 0);
  }
  process(a, b, addSpecial) {
    const out = new Encoding();
    for (const [kind, id, typeId] of b ? this.pair : this.single) {
      if (kind === 'Sequence') {
        const enc = id === 'A' ? a : b;
        if (!enc) continue;
        enc.typeIds = Array(enc.length).fill(typeId);
        out.extend(enc);
      } else if (addSpecial) {
        const [ids, tokens] = this.special.get(id);
        out.extend(specialEncoding(ids, tokens, typeId));
      }
    }
    return out;
  }
}

function templateFromSpec(value, ctx, special) {
  if (typeof value === 'string') throw ctx.error('template strings are not supported here; use the serialized list form (as tokenizers writes it)');
  if (!Array.isArray(value)) throw ctx.error(`expected an array, got ${kindOf(value ?? null)}`);
  return value.map((piece, i) => {
    const pctx = ctx.at(i);
    piece = pctx.obj(piece);
    for (const kind of ['Sequence', 'SpecialToken']) {
      if (!(kind in piece)) continue;
      const kctx = pctx.at(kind), p = kctx.obj(piece[kind]);
      const id = kctx.get(p, 'id', 'string');
      if (kind === 'Sequence' && id !== 'A' && id !== 'B') throw kctx.at('id').error(`"${id}" must be "A" or "B"`);
      if (kind === 'SpecialToken' && !special.has(id)) throw pctx.error(`special token "${id}" is not in post_processor.special_tokens`);
      return [kind, id, kctx.get(p, 'type_id', 'int', 0)];
    }
    throw pctx.error('expected {"Sequence": ...} or {"SpecialToken": ...}');
  });
}

function postProcessorFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  if (ctx.typeOf(obj, ['BertProcessing', 'TemplateProcessing']) === 'BertProcessing') {
    const pair = (key) => {
      const v = ctx.get(obj, key, 'array');
      if (v.length !== 2 || typeof v[0] !== 'string' || !Number.isInteger(v[1])) throw ctx.at(key).error('expected ["token", id]');
      return v;
    };
    return new BertProcessing(pair('sep'), pair('cls'));
  }
  const special = new Map();
  const sctx = ctx.at('special_tokens');
  for (const [name, spec] of Object.entries(ctx.get(obj, 'special_tokens', 'object', {}))) {
    const s = sctx.at(name).obj(spec);
    const ids = sctx.at(name).get(s, 'ids', 'array'), tokens = sctx.at(name).get(s, 'tokens', 'array');
    if (ids.length !== tokens.length) throw sctx.at(name).error('ids and tokens must have the same length');
    special.set(name, [ids, tokens]);
  }
  return new TemplateProcessing(templateFromSpec(obj.single, ctx.at('single'), special), templateFromSpec(obj.pair, ctx.at('pair'), special), special);
}

const STRATEGIES = { LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' };
const DIRECTIONS = ['Right', 'Left'];

function truncate(a, b, params, added) {
  const maxLength = params.max_length - added;
  if (maxLength < 0) throw new TokenizerSpecError(`truncation.max_length ${params.max_length} is smaller than the ${added} special tokens the post_processor adds; raise it`);
  const dir = params.direction;
  if (maxLength === 0) { a.truncate(0, dir); if (b) b.truncate(0, dir); return; }
  const total = a.length + (b ? b.length : 0);
  if (total <= maxLength) return;
  const toRemove = total - maxLength;
  if (params.strategy === 'LongestFirst') {
    if (!b) { a.truncate(total - toRemove, dir); return; }
    let n1 = a.length, n2 = b.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
    if (n1 + n2 > maxLength) { n1 = Math.floor(maxLength / 2); n2 = n1 + (maxLength % 2); }
    if (swap) [n1, n2] = [n2, n1];
    a.truncate(n1, dir); b.truncate(n2, dir);
    return;
  }
  let target = a;
  if (params.strategy === 'OnlySecond') {
    if (!b) throw new TokenizerSpecError('truncation strategy OnlySecond needs a pair; encode a pair or use LongestFirst');
    target = b;
  }
  if (target.length > toRemove) target.truncate(target.length - toRemove, dir);
  else throw new TokenizerSpecError(`truncation: the sequence to truncate (${params.strategy}) is too short to respect max_length ${params.max_length}; use LongestFirst or a larger max_length`);
}

function padBatch(encodings, params) {
  if (!encodings.length) return;
  let length = typeof params.strategy === 'object' ? params.strategy.Fixed : encodings.reduce((m, e) => Math.max(m, e.length), 0);
  const multiple = params.pad_to_multiple_of;
  if (multiple && length % multiple) length += multiple - (length % multiple);
  for (const e of encodings) e.pad(length, params.pad_id, params.pad_type_id, params.pad_token, params.direction);
}

function truncationFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const out = { direction: ctx.get(obj, 'direction', 'string', 'Right'), max_length: ctx.get(obj, 'max_length', 'int'),
    strategy: ctx.get(obj, 'strategy', 'string', 'LongestFirst'), stride: ctx.get(obj, 'stride', 'int', 0) };
  if (!DIRECTIONS.includes(out.direction)) throw ctx.at('direction').error(`"${out.direction}" is not supported; supported: Right, Left`);
  if (!(out.strategy in STRATEGIES)) throw ctx.at('strategy').error(`"${out.strategy}" is not supported; supported: ${Object.keys(STRATEGIES).join(', ')}`);
  if (out.max_length < 0 || out.stride < 0) throw ctx.at('max_length').error('max_length and stride must be >= 0');
  return out;
}

function paddingFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  const strategy = obj.strategy ?? 'BatchLongest';
  const fixedOk = strategy !== null && typeof strategy === 'object' && Object.keys(strategy).join() === 'Fixed' &&
    Number.isInteger(strategy.Fixed) && strategy.Fixed >= 0;
  if (strategy !== 'BatchLongest' && !fixedOk) throw ctx.at('strategy').error(`${JSON.stringify(strategy)} is not supported; supported: "BatchLongest", {"Fixed": n}`);
  const out = { strategy, direction: ctx.get(obj, 'direction', 'string', 'Right'),
    pad_to_multiple_of: ctx.get(obj, 'pad_to_multiple_of', 'int', null, true), pad_id: ctx.get(obj, 'pad_id', 'int', 0),
    pad_type_id: ctx.get(obj, 'pad_type_id', 'int', 0), pad_token: ctx.get(obj, 'pad_token', 'string', '[PAD]') };
  if (!DIRECTIONS.includes(out.direction)) throw ctx.at('direction').error(`"${out.direction}" is not supported; supported: Right, Left`);
  return out;
}

// ---- decoder -----------------------------------------------------------------------------------
const CLEANUP = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"],
  [' do not', " don't"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
const cleanup = (s) => CLEANUP.reduce((acc, [a, b]) => acc.split(a).join(b), s);

function decoderFromSpec(obj, ctx) {
  if (obj === null || obj === undefined) return null;
  obj = ctx.obj(obj);
  ctx.typeOf(obj, ['WordPiece']);
  const prefix = ctx.get(obj, 'prefix', 'string', '##'), clean = ctx.get(obj, 'cleanup', 'boolean', true);
  return (tokens) => tokens.map((t, i) => {
    if (i) t = t.startsWith(prefix) ? t.replace(prefix, () => '') : ' ' + t;
    return clean ? cleanup(t) : t;
  }).join('');
}

// ---- added tokens ------------------------------------------------------------------------------
class AddedVocabulary {
  constructor(tokens, normalizer) {
    this.tokens = tokens;
    this.byContent = new Map(tokens.map((t) => [t.content, t]));
    this.byId = new Map(tokens.map((t) => [t.id, t]));
    this.special = new Set(tokens.filter((t) => t.special).map((t) => t.content));
    this.raw = new Map(); this.norm = new Map();
    for (const t of tokens) {
      if (!t.content) continue;
      if (!t.normalized) { this.raw.set(t.content, t); continue; }
      const ns = NormalizedString.fromChars(Array.from(t.content));
      if (normalizer) normalizer.normalize(ns);
      const key = ns.text();
      if (key && !this.norm.has(key)) this.norm.set(key, t);
    }
    // leftmost-longest matching: candidates per first code point, longest first
    this.rawIndex = AddedVocabulary.index(this.raw);
    this.normIndex = AddedVocabulary.index(this.norm);
  }
  static index(map) {
    const idx = new Map();
    for (const [content, tok] of map) {
      const cps = Array.from(content);
      if (!idx.has(cps[0])) idx.set(cps[0], []);
      idx.get(cps[0]).push([cps, tok]);
    }
    for (const list of idx.values()) list.sort((x, y) => y[0].length - x[0].length || (x[0].join('') < y[0].join('') ? -1 : 1));
    return idx;
  }
  split(ns, normalized) {
    const index = normalized ? this.normIndex : this.rawIndex;
    const chars = ns.chars, n = chars.length;
    if (!index.size || !n) return [[ns, null]];
    const out = [];
    let startOffset = 0, i = 0;
    while (i < n) {
      const cands = index.get(chars[i]);
      let hit = null;
      if (cands) {
        for (const [cps, tok] of cands) {
          if (i + cps.length > n) continue;
          let ok = true;
          for (let k = 1; k < cps.length && ok; k++) if (chars[i + k] !== cps[k]) ok = false;
          if (ok) { hit = [cps.length, tok]; break; }
        }
      }
      if (!hit) { i++; continue; }
      let start = i, stop = i + hit[0];
      const tok = hit[1];
      i = stop; // the matcher resumes after the raw match, as the reference's does
      if (tok.single_word) {
        const before = start === 0 || !has(chars[start - 1], F_WORD);
        const after = stop === n || !has(chars[stop], F_WORD);
        if (!(before && after)) continue;
      }
      if (tok.lstrip) {
        let s = start;
        while (s > 0 && has(chars[s - 1], F_SPACE)) s--;
        start = Math.max(s, startOffset);
      }
      if (tok.rstrip) while (stop < n && has(chars[stop], F_SPACE)) stop++;
      if (startOffset < start) out.push([ns.slice(startOffset, start), null]);
      out.push([ns.slice(start, stop), tok]);
      startOffset = stop;
    }
    if (startOffset !== n) out.push([ns.slice(startOffset, n), null]);
    return out;
  }
}

function addedFromSpec(items, ctx, normalizer) {
  return new AddedVocabulary((items ?? []).map((obj, i) => {
    const c = ctx.at(i);
    obj = c.obj(obj);
    return { id: c.get(obj, 'id', 'int'), content: c.get(obj, 'content', 'string'), single_word: c.get(obj, 'single_word', 'boolean', false),
      lstrip: c.get(obj, 'lstrip', 'boolean', false), rstrip: c.get(obj, 'rstrip', 'boolean', false),
      normalized: c.get(obj, 'normalized', 'boolean', true), special: c.get(obj, 'special', 'boolean', false) };
  }), normalizer);
}

// ---- the Tokenizer -----------------------------------------------------------------------------
/** Code points of `text`, lone surrogates replaced by U+FFFD (as TextEncoder does; one unit for one). */
function codePoints(text) {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    const u = chars[i].charCodeAt(0);
    if (u >= 0xd800 && u <= 0xdfff && chars[i].length === 1) chars[i] = '\ufffd';
  }
  return chars;
}

function utf16Offsets(chars, offsets) {
  let astral = false;
  for (const c of chars) if (c.length > 1) { astral = true; break; }
  if (!astral) return offsets.map((o) => [o[0], o[1]]);
  const prefix = new Array(chars.length + 1);
  prefix[0] = 0;
  for (let i = 0; i < chars.length; i++) prefix[i + 1] = prefix[i] + chars[i].length;
  return offsets.map(([s, e]) => [prefix[s], prefix[e]]);
}

const capitalize = (s) => String(s).charAt(0).toUpperCase() + String(s).slice(1).toLowerCase();

export class Tokenizer {
  constructor(spec, source = 'tokenizer.json') {
    const ctx = new Ctx(source);
    spec = ctx.obj(spec);
    if (!SUPPORTED_VERSIONS.includes(spec.version)) {
      if (!('version' in spec)) throw ctx.at('version').error('is missing; supported: "1.0"');
      const shown = typeof spec.version === 'string' ? `"${spec.version}"` : JSON.stringify(spec.version);
      throw ctx.at('version').error(`${shown} is not supported; supported: "1.0"`);
    }
    this.normalizer = normalizerFromSpec(spec.normalizer, ctx.at('normalizer'));
    this.preTokenizer = preTokenizerFromSpec(spec.pre_tokenizer, ctx.at('pre_tokenizer'));
    if (!('model' in spec)) throw ctx.at('model').error('is required');
    this.model = modelFromSpec(spec.model, ctx.at('model'));
    this.postProcessor = postProcessorFromSpec(spec.post_processor, ctx.at('post_processor'));
    this.decoder = decoderFromSpec(spec.decoder, ctx.at('decoder'));
    this.added = addedFromSpec(ctx.get(spec, 'added_tokens', 'array', [], true), ctx.at('added_tokens'), this.normalizer);
    this._truncation = truncationFromSpec(spec.truncation, ctx.at('truncation'));
    this._padding = paddingFromSpec(spec.padding, ctx.at('padding'));
    if (this._truncation) this._checkStride(this._truncation, ctx.at('truncation'));
    this.inverse = new Map();
    for (const [k, v] of this.model.vocab) this.inverse.set(v, k);
  }

  static fromJSON(obj, source = 'tokenizer.json') { return new Tokenizer(obj, source); }

  static fromString(text, source = 'tokenizer.json') {
    let obj;
    try {
      obj = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      throw new TokenizerSpecError(`${source}: not valid JSON (${err.message})`);
    }
    return new Tokenizer(obj, source);
  }

  /** Bytes of a tokenizer.json (Uint8Array / ArrayBuffer): invalid UTF-8 is refused, not replaced. */
  static fromBytes(bytes, source = 'tokenizer.json') {
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new TokenizerSpecError(`${source}: not valid UTF-8; tokenizer.json must be UTF-8 encoded JSON`);
    }
    return Tokenizer.fromString(text, source);
  }

  get padding() { return this._padding ? { ...this._padding } : null; }
  get truncation() { return this._truncation ? { ...this._truncation } : null; }

  enablePadding({ direction = 'right', padId = 0, padTypeId = 0, padToken = '[PAD]', length = null, padToMultipleOf = null } = {}) {
    const dir = capitalize(direction);
    if (!DIRECTIONS.includes(dir)) throw new TokenizerSpecError(`enablePadding: direction ${JSON.stringify(direction)} is not supported; use 'right' or 'left'`);
    this._padding = { strategy: length === null || length === undefined ? 'BatchLongest' : { Fixed: length }, direction: dir,
      pad_to_multiple_of: padToMultipleOf, pad_id: padId, pad_type_id: padTypeId, pad_token: padToken };
  }

  noPadding() { this._padding = null; }

  enableTruncation(maxLength, { stride = 0, strategy = 'longest_first', direction = 'right' } = {}) {
    const byName = Object.fromEntries(Object.entries(STRATEGIES).map(([k, v]) => [v, k]));
    const s = byName[strategy] ?? strategy;
    if (!(s in STRATEGIES)) throw new TokenizerSpecError(`enableTruncation: strategy ${JSON.stringify(strategy)} is not supported; use longest_first, only_first or only_second`);
    const dir = capitalize(direction);
    if (!DIRECTIONS.includes(dir)) throw new TokenizerSpecError(`enableTruncation: direction ${JSON.stringify(direction)} is not supported; use 'right' or 'left'`);
    const params = { direction: dir, max_length: maxLength, strategy: s, stride };
    this._checkStride(params, new Ctx('enableTruncation'));
    this._truncation = params;
  }

  noTruncation() { this._truncation = null; }

  _checkStride(params, ctx) {
    const added = this.postProcessor ? this.postProcessor.addedTokens(false) : 0;
    if (params.max_length - added < params.stride) {
      throw ctx.error(`stride ${params.stride} is greater than the effective max length ${params.max_length - added} (max_length - ${added} special tokens)`);
    }
  }

  tokenToId(token) {
    const t = this.added.byContent.get(token);
    return t ? t.id : this.model.vocab.get(token) ?? null;
  }

  idToToken(id) {
    const t = this.added.byId.get(id);
    return t ? t.content : this.inverse.get(id) ?? null;
  }

  getVocab(withAddedTokens = true) {
    const v = Object.fromEntries(this.model.vocab);
    if (withAddedTokens) for (const t of this.added.tokens) v[t.content] = t.id;
    return v;
  }

  getVocabSize(withAddedTokens = true) { return Object.keys(this.getVocab(withAddedTokens)).length; }

  _encodeSequence(text, typeId) {
    const chars = codePoints(text);
    const ids = [], tokens = [], offsets = [];
    const push = (id, token, span) => { ids.push(id); tokens.push(token); offsets.push(span); };
    for (const [piece, tok] of this.added.split(NormalizedString.fromChars(chars), false)) {
      if (tok) { push(tok.id, piece.text(), piece.span(0, piece.length)); continue; }
      if (this.normalizer) this.normalizer.normalize(piece);
      if (!piece.length) continue;
      for (const [sub, tok2] of this.added.split(piece, true)) {
        if (!sub.length) continue;
        if (tok2) { push(tok2.id, sub.text(), sub.span(0, sub.length)); continue; }
        const spans = [];
        if (this.preTokenizer) this.preTokenizer(sub.chars, 0, sub.length, spans); else spans.push(0, sub.length);
        const sink = (id, token, s, e) => push(id, token, [sub.starts[s], sub.ends[e - 1]]);
        for (let k = 0; k < spans.length; k += 2) this.model.tokenize(sub.chars, spans[k], spans[k + 1], sink);
      }
    }
    const n = ids.length;
    return new Encoding({ ids, typeIds: Array(n).fill(typeId), tokens, offsets: utf16Offsets(chars, offsets), codePointOffsets: offsets,
      attentionMask: Array(n).fill(1), specialTokensMask: Array(n).fill(0) });
  }

  _postProcess(a, b, addSpecial) {
    if (this._truncation) {
      const added = this.postProcessor && addSpecial ? this.postProcessor.addedTokens(!!b) : 0;
      truncate(a, b, this._truncation, added);
    }
    const out = this.postProcessor ? this.postProcessor.process(a, b, addSpecial) : concatDefault(a, b);
    if (this._padding) padBatch([out], this._padding);
    return out;
  }

  /** encode(text, pair?, {addSpecialTokens}) -> Encoding. `pair` may be null/undefined. */
  encode(text, pair = null, options = {}) {
    const addSpecial = typeof options === 'boolean' ? options : options.addSpecialTokens ?? true;
    const a = this._encodeSequence(text, 0);
    const b = pair === null || pair === undefined ? null : this._encodeSequence(pair, 1);
    return this._postProcess(a, b, addSpecial);
  }

  /** encodeBatch([text | [text, pair]], {addSpecialTokens}) -> Encoding[]; BatchLongest pads across the batch. */
  encodeBatch(inputs, options = {}) {
    const out = inputs.map((x) => (Array.isArray(x) ? this.encode(x[0], x[1], options) : this.encode(x, null, options)));
    if (this._padding) padBatch(out, this._padding);
    return out;
  }

  decode(ids, options = {}) {
    const skip = typeof options === 'boolean' ? options : options.skipSpecialTokens ?? true;
    const tokens = [];
    for (const id of ids) {
      const t = this.idToToken(id);
      if (t === null || (skip && this.added.special.has(t))) continue;
      tokens.push(t);
    }
    return this.decoder ? this.decoder(tokens) : tokens.join(' ');
  }

  decodeBatch(sequences, options = {}) { return sequences.map((s) => this.decode(s, options)); }
}

export default Tokenizer;
