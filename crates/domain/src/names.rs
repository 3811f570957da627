//! Patient names: masking for anything printed or shown to other patients, and the search
//! keys (characters, pinyin, initials) that let a nurse find 张三 by typing `zs`.

/// Two-character (compound) surnames, so that 欧阳娜娜 masks as 欧阳*娜, not 欧*娜娜.
pub const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕",
    "令狐", "钟离", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "澹台", "公冶", "太史", "申屠", "闻人",
    "赫连", "拓跋",
];

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Length in characters of the surname at the start of a Chinese name (1 or 2).
pub fn surname_len(name: &str) -> usize {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() >= 3 {
        let first_two: String = chars[..2].iter().collect();
        if COMPOUND_SURNAMES.contains(&first_two.as_str()) {
            return 2;
        }
    }
    1
}

/// Masks a name for printing on a ticket or a slot sheet: the surname stays, the given name
/// is hidden but for its last character when it has two or more (张三 → 张*, 李小明 → 李*明,
/// 欧阳娜娜 → 欧阳*娜). Latin-script names keep the first letter of each word
/// (`John Smith` → `J*** S***`, at most three stars a word).
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return String::new();
    }
    if name.chars().any(is_cjk) {
        let chars: Vec<char> = name.chars().filter(|c| !c.is_whitespace()).collect();
        if chars.len() == 1 {
            return "*".to_string();
        }
        let s = surname_len(name);
        let given = chars.len() - s;
        let mut out: String = chars[..s].iter().collect();
        if given <= 1 {
            out.push('*');
        } else {
            for _ in 0..given - 1 {
                out.push('*');
            }
            out.push(chars[chars.len() - 1]);
        }
        return out;
    }
    name.split_whitespace()
        .map(|w| {
            let mut cs = w.chars();
            let first = cs.next().map(String::from).unwrap_or_default();
            let rest = cs.count().min(3);
            format!("{first}{}", "*".repeat(rest))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Search keys
// ---------------------------------------------------------------------------------------------

/// Readings of polyphonic surnames, the surname reading first. Only characters whose reading as
/// a surname is not (only) the `pinyin` crate's default reading are listed: the crate's
/// heteronym lists are too broad to index wholesale (王 lists `yu`, 沈 lists `chen`, 湛 seven
/// readings), which would make a search for `chen` bring up every 沈. Every other surname is
/// indexed with the crate's default reading. Readings are toneless, `ü` written `v`.
const SURNAME_READINGS: &[(char, &[&str])] = &[
    ('单', &["shan", "dan"]),
    ('曾', &["zeng", "ceng"]),
    ('解', &["xie", "jie"]),
    ('区', &["ou", "qu"]),
    ('仇', &["qiu", "chou"]),
    ('朴', &["piao", "pu"]),
    ('查', &["zha", "cha"]),
    ('盖', &["ge", "gai"]),
    ('乐', &["yue", "le"]),
    ('尉', &["yu", "wei"]),
    ('翟', &["zhai", "di"]),
    ('覃', &["qin", "tan"]),
    ('缪', &["miao", "mou", "miu"]),
    ('繁', &["po", "fan"]),
    ('秘', &["bi", "mi"]),
    ('种', &["chong", "zhong"]),
    ('重', &["chong", "zhong"]),
    ('召', &["shao", "zhao"]),
    ('员', &["yun", "yuan"]),
    ('句', &["gou", "ju"]),
    ('折', &["she", "zhe"]),
    ('祭', &["zhai", "ji"]),
    ('贲', &["ben", "bi"]),
    ('能', &["nai", "neng"]),
    ('阚', &["kan", "han"]),
    ('卜', &["bu", "bo"]),
    ('薄', &["bo", "bao"]),
    ('柏', &["bai", "bo"]),
    ('都', &["du", "dou"]),
    ('行', &["xing", "hang"]),
    ('长', &["chang", "zhang"]),
    ('藏', &["zang", "cang"]),
    ('隗', &["wei", "kui"]),
    ('谌', &["chen", "shen"]),
    ('洗', &["xian", "xi"]),
    ('冼', &["xian"]),
    ('牟', &["mou", "mu"]),
    ('费', &["fei", "bi"]),
    ('蕃', &["pi", "fan"]),
    ('蔚', &["yu", "wei"]),
    ('郇', &["huan", "xun"]),
    ('莘', &["shen", "xin"]),
    ('角', &["jue", "jiao"]),
    ('佴', &["nai", "er"]),
];

/// Readings of compound surnames whose characters read differently as a surname.
const COMPOUND_READINGS: &[(&str, &[&str])] =
    &[("尉迟", &["yu", "chi"]), ("万俟", &["mo", "qi"]), ("长孙", &["zhang", "sun"]), ("澹台", &["tan", "tai"])];

/// Longest name (in characters) that search keys are made from; longer input is cut.
const MAX_NAME_CHARS: usize = 64;

/// The default toneless reading of a character, `ü` written `v`; `None` without pinyin data.
fn default_reading(c: char) -> Option<String> {
    use pinyin::ToPinyin;
    c.to_pinyin().map(|p| p.plain().replace('ü', "v"))
}

/// Every reading of the surname (one or two characters) as lists of syllables.
fn surname_readings(surname: &[char]) -> Vec<Vec<String>> {
    let owned = |syllables: &[&str]| syllables.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if surname.len() == 2 {
        let text: String = surname.iter().collect();
        if let Some((_, syl)) = COMPOUND_READINGS.iter().find(|(s, _)| *s == text) {
            return vec![owned(syl)];
        }
        return vec![surname.iter().filter_map(|&c| default_reading(c)).collect()];
    }
    match surname.first() {
        Some(c) => match SURNAME_READINGS.iter().find(|(s, _)| s == c) {
            Some((_, readings)) => readings.iter().map(|r| vec![r.to_string()]).collect(),
            None => vec![default_reading(*c).into_iter().collect()],
        },
        None => vec![Vec::new()],
    }
}

/// Splits text into lower-cased words of letters and digits (CJK ideographs are not part of a
/// word). Diacritics are kept: FTS5's `unicode61` folds them on both sides (`Müller` is found
/// by `muller`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() || is_cjk(c))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn push_unique(tokens: &mut Vec<String>, token: String) {
    if !token.is_empty() && !tokens.contains(&token) {
        tokens.push(token);
    }
}

fn initials(syllables: &[String]) -> String {
    syllables.iter().filter_map(|s| s.chars().next()).collect()
}

/// The search keys of a name, for a column of an FTS5 table with the default `unicode61`
/// tokenizer (and `prefix='1 2 3'`), queried with [`fts_query`].
///
/// Chinese names give: each character as its own token (unicode61 would otherwise make one
/// token of a run of ideographs), the toneless pinyin of each character, the whole name's
/// pinyin run together, its initials, and the given name's pinyin run together:
/// `张三` → `张 三 zhang san zhangsan zs`, `李小明` → `李 小 明 li xiao ming lixiaoming lxm
/// xiaoming`. A polyphonic surname is indexed with every reading it has as a surname
/// (`单雄` → `shan dan … shanxiong danxiong sx dx`), a compound surname with its surname
/// reading (`尉迟恭` → `yuchigong`); the given name with each character's default reading
/// only. `ü` is written `v` (`吕` → `lv`). Latin-script names give the lower-cased words,
/// the words run together and the initials: `John Smith` → `john smith johnsmith js`.
/// Tokens are unique; the result is empty for a name with nothing searchable.
pub fn search_keys(name: &str) -> String {
    let name: String = name.chars().map(crate::document::fullwidth_to_ascii).take(MAX_NAME_CHARS).collect();
    let mut tokens: Vec<String> = Vec::new();
    let cjk: Vec<char> = name.chars().filter(|&c| is_cjk(c)).collect();
    if cjk.is_empty() {
        let ws = words(&name);
        for w in &ws {
            push_unique(&mut tokens, w.clone());
        }
        if ws.len() >= 2 {
            push_unique(&mut tokens, ws.concat());
            push_unique(&mut tokens, initials(&ws));
        }
        return tokens.join(" ");
    }
    // The characters in order, repeats kept: a query is a phrase over them (欧阳娜娜 has 娜 twice).
    for c in &cjk {
        tokens.push(c.to_string());
    }
    let han: String = cjk.iter().collect();
    let split = surname_len(&han).min(cjk.len());
    let readings = surname_readings(&cjk[..split]);
    let given: Vec<String> = cjk[split..].iter().filter_map(|&c| default_reading(c)).collect();
    for syllable in readings.iter().flatten().chain(&given) {
        push_unique(&mut tokens, syllable.clone());
    }
    for reading in &readings {
        let whole: Vec<String> = reading.iter().chain(&given).cloned().collect();
        push_unique(&mut tokens, whole.concat());
        if whole.len() >= 2 {
            push_unique(&mut tokens, initials(&whole));
        }
    }
    if given.len() >= 2 {
        push_unique(&mut tokens, given.concat());
    }
    // Letters or digits written in a Chinese name (rare, but then searchable too).
    for w in words(&name) {
        push_unique(&mut tokens, w);
    }
    tokens.join(" ")
}

/// Most terms a query is made of; anything after is ignored.
const MAX_QUERY_TERMS: usize = 8;

/// Turns what a nurse typed into an FTS5 `MATCH` expression over a [`search_keys`] column, or
/// `None` when there is nothing to search for.
///
/// * a run of Chinese characters becomes a phrase of consecutive characters: `张三` →
///   `"张 三"` (finds 张三 and 张三丰, not 张小三);
/// * every run of letters or digits becomes a prefix term: `zs` → `"zs"*`, `zhangs` →
///   `"zhangs"*`, `zhang san` → `"zhang"* "san"*` (all terms must match);
/// * mixed input splits where the script changes: `张s` → `"张" "s"*`.
///
/// Every term is double-quoted and made only of letters, digits and ideographs, so no input —
/// quotes, `*`, `-`, `:`, parentheses, `AND`/`OR`/`NOT`/`NEAR` — can produce an FTS5 syntax
/// error or operator. Letters are lower-cased and full-width forms mapped to ASCII; at most
/// eight terms are kept. (Pinyin `ü` is indexed as `v`, which is what pinyin keyboards type.)
pub fn fts_query(input: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut han: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_han = |han: &mut Vec<char>, terms: &mut Vec<String>| {
        if !han.is_empty() {
            let phrase: Vec<String> = han.iter().map(|c| c.to_string()).collect();
            terms.push(format!("\"{}\"", phrase.join(" ")));
            han.clear();
        }
    };
    let flush_word = |word: &mut String, terms: &mut Vec<String>| {
        if !word.is_empty() {
            terms.push(format!("\"{}\"*", word.replace('"', "\"\"")));
            word.clear();
        }
    };
    for c in input.chars().map(crate::document::fullwidth_to_ascii).take(MAX_NAME_CHARS * 2) {
        if is_cjk(c) {
            flush_word(&mut word, &mut terms);
            han.push(c);
        } else if c.is_alphanumeric() {
            flush_han(&mut han, &mut terms);
            word.extend(c.to_lowercase());
        } else {
            flush_han(&mut han, &mut terms);
            flush_word(&mut word, &mut terms);
        }
    }
    flush_han(&mut han, &mut terms);
    flush_word(&mut word, &mut terms);
    terms.truncate(MAX_QUERY_TERMS);
    if terms.is_empty() { None } else { Some(terms.join(" ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let cases = [
            ("张三", "张*"),
            ("李小明", "李*明"),
            ("欧阳娜娜", "欧阳*娜"),
            ("欧阳娜", "欧阳*"),
            ("司马相如", "司马*如"),
            ("王", "*"),
            ("爱新觉罗溥仪", "爱****仪"),
            ("John Smith", "J*** S***"),
            ("Li", "L*"),
            ("", ""),
        ];
        for (name, masked) in cases {
            assert_eq!(mask_name(name), masked, "{name}");
        }
    }

    fn keys(name: &str) -> Vec<String> {
        search_keys(name).split(' ').map(str::to_string).collect()
    }

    #[test]
    fn search_keys_examples() {
        let cases = [
            ("张三", "张 三 zhang san zhangsan zs"),
            ("李小明", "李 小 明 li xiao ming lixiaoming lxm xiaoming"),
            ("John Smith", "john smith johnsmith js"),
            ("José Müller", "josé müller josémüller jm"),
            ("  JOHN   smith ", "john smith johnsmith js"),
            ("Madonna", "madonna"),
            ("王", "王 wang"),
            ("吕布", "吕 布 lv bu lvbu lb"),
            ("欧阳娜娜", "欧 阳 娜 娜 ou yang na ouyangnana oynn nana"),
            ("", ""),
            ("  ·  ", ""),
        ];
        for (name, want) in cases {
            assert_eq!(search_keys(name), want, "{name}");
        }
    }

    #[test]
    fn polyphonic_surnames_are_indexed_with_every_reading() {
        let cases: &[(&str, &[&str])] = &[
            ("单雄", &["单", "雄", "shan", "dan", "xiong", "shanxiong", "danxiong", "sx", "dx"]),
            ("曾国藩", &["zengguofan", "cengguofan", "zgf", "cgf", "guofan"]),
            ("解缙", &["xiejin", "jiejin", "xj", "jj"]),
            ("区小红", &["ouxiaohong", "quxiaohong", "oxh", "qxh"]),
            ("仇英", &["qiuying", "chouying"]),
            ("朴智星", &["piaozhixing", "puzhixing", "pzx"]),
            ("查良镛", &["zhaliangyong", "chaliangyong"]),
            ("盖聂", &["genie", "gainie"]),
            ("乐嘉", &["yuejia", "lejia"]),
            ("尉迟恭", &["尉", "迟", "恭", "yuchigong", "ycg", "yu", "chi", "gong"]),
            ("万俟卨", &["mo", "qi", "moqixie", "mqx"]),
            ("长孙无忌", &["zhangsunwuji", "zswj", "wuji"]),
            ("翟志刚", &["zhaizhigang", "dizhigang"]),
        ];
        for (name, expected) in cases {
            let got = keys(name);
            for e in *expected {
                assert!(got.iter().any(|t| t == e), "{name}: {e} missing from {got:?}");
            }
        }
        // Given names: default reading only, and no junk readings of common surnames.
        assert!(!keys("沈从文").contains(&"chen".to_string()));
        assert!(!keys("王长江").contains(&"yu".to_string()));
        assert_eq!(keys("单雄").len(), 9);
    }

    #[test]
    fn search_keys_are_unique_and_short() {
        // The characters stay in order with repeats (queries are phrases over them); every
        // other token is there once.
        assert_eq!(&keys("张张")[..2], ["张", "张"]);
        for name in ["张张", "单单单", "John John", "爱新觉罗溥仪", "阿依古丽·买买提"] {
            let ks: Vec<String> = keys(name).into_iter().filter(|k| !k.chars().any(is_cjk)).collect();
            let mut dedup = ks.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(ks.len(), dedup.len(), "{name}: {ks:?}");
        }
        let long = "王".repeat(1000);
        assert!(search_keys(&long).len() < 2000);
        assert!(search_keys(&"a b ".repeat(1000)).len() < 1000);
        assert!(search_keys("阿依古丽·买买提").contains("ayiguli"));
    }

    #[test]
    fn fts_queries() {
        let cases: &[(&str, Option<&str>)] = &[
            ("张三", Some("\"张 三\"")),
            ("张", Some("\"张\"")),
            ("zs", Some("\"zs\"*")),
            ("ZS", Some("\"zs\"*")),
            ("zhangs", Some("\"zhangs\"*")),
            ("zhang san", Some("\"zhang\"* \"san\"*")),
            ("  zhang   san  ", Some("\"zhang\"* \"san\"*")),
            ("张s", Some("\"张\" \"s\"*")),
            ("张 三", Some("\"张\" \"三\"")),
            ("ｚｈａｎｇ", Some("\"zhang\"*")),
            ("lv", Some("\"lv\"*")),
            ("Müller", Some("\"müller\"*")),
            ("o'neil", Some("\"o\"* \"neil\"*")),
            ("\"zs", Some("\"zs\"*")),
            ("zs*", Some("\"zs\"*")),
            ("-zs", Some("\"zs\"*")),
            ("name:zs", Some("\"name\"* \"zs\"*")),
            ("(zs OR ls)", Some("\"zs\"* \"or\"* \"ls\"*")),
            ("AND", Some("\"and\"*")),
            ("NEAR(a b)", Some("\"near\"* \"a\"* \"b\"*")),
            ("", None),
            ("   ", None),
            ("\"\"", None),
            ("*", None),
            ("-:()^+", None),
            ("\u{0}\u{7}", None),
        ];
        for (input, want) in cases {
            assert_eq!(fts_query(input).as_deref(), *want, "{input:?}");
        }
        let many = fts_query("a b c d e f g h i j k").unwrap_or_default();
        assert_eq!(many.matches('*').count(), MAX_QUERY_TERMS);
    }

    /// A tiny model of FTS5 over `search_keys` columns, enough to check that what a nurse types
    /// finds the patient: a term `"x"*` matches a token with prefix x; a phrase `"a b"` matches
    /// consecutive tokens.
    fn matches(query: &str, column: &str) -> bool {
        let tokens: Vec<&str> = column.split(' ').collect();
        let mut rest = query;
        while let Some(body) = rest.strip_prefix('"') {
            let Some(close) = body.find('"') else {
                return false;
            };
            let term = &body[..close];
            rest = &body[close + 1..];
            let hit = if let Some(after) = rest.strip_prefix('*') {
                rest = after;
                tokens.iter().any(|t| t.starts_with(term))
            } else {
                let phrase: Vec<&str> = term.split(' ').collect();
                tokens.windows(phrase.len()).any(|w| w == phrase.as_slice())
            };
            if !hit {
                return false;
            }
            rest = rest.trim_start_matches(' ');
        }
        rest.is_empty()
    }

    #[test]
    fn typed_queries_find_the_patient() {
        let patients = ["张三", "张三丰", "张小三", "李四", "单雄", "尉迟恭", "吕布", "John Smith"];
        let index: Vec<(&str, String)> = patients.iter().map(|p| (*p, search_keys(p))).collect();
        let find = |typed: &str| -> Vec<&str> {
            let q = fts_query(typed).unwrap_or_default();
            index.iter().filter(|(_, col)| matches(&q, col)).map(|(p, _)| *p).collect()
        };
        assert_eq!(find("张三"), ["张三", "张三丰"]);
        assert_eq!(find("zs"), ["张三", "张三丰"]);
        assert_eq!(find("zhangs"), ["张三", "张三丰"]);
        assert_eq!(find("zhang san"), ["张三", "张三丰", "张小三"]);
        assert_eq!(find("zsf"), ["张三丰"]);
        assert_eq!(find("danx"), ["单雄"]);
        assert_eq!(find("shanxiong"), ["单雄"]);
        assert_eq!(find("yuchi"), ["尉迟恭"]);
        assert_eq!(find("lv"), ["吕布"]);
        assert_eq!(find("js"), ["John Smith"]);
        assert_eq!(find("smi"), ["John Smith"]);
        assert_eq!(find("张s"), ["张三", "张三丰", "张小三"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_queries_stay_quoted(s in "\\PC{0,80}") {
            let _ = search_keys(&s);
            if let Some(q) = fts_query(&s) {
                // Every term is a quoted string, optionally followed by *, separated by spaces.
                let mut rest = q.as_str();
                while !rest.is_empty() {
                    proptest::prop_assert!(rest.starts_with('"'), "{q}");
                    let close = rest[1..].find('"').map(|i| i + 1);
                    proptest::prop_assert!(close.is_some(), "{q}");
                    let close = close.unwrap_or(0);
                    rest = rest[close + 1..].trim_start_matches('*').trim_start_matches(' ');
                }
            }
        }
    }
}
