//! Text normalisation shared by the geoparser, the classifier and the clusterer.

/// Lower case without diacritics, for the Latin letters posts use most.
pub fn fold_char(c: char, out: &mut String) {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å'
        | 'Ā' | 'Ă' | 'Ą' => 'a',
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' | 'Ç' | 'Ć' | 'Č' => 'c',
        'ď' | 'đ' | 'Ď' | 'Đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę'
        | 'Ě' => 'e',
        'ğ' | 'ģ' | 'Ğ' | 'Ģ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => {
            'i'
        }
        'ķ' | 'Ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ł' | 'Ĺ' | 'Ļ' | 'Ľ' | 'Ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' | 'Ñ' | 'Ń' | 'Ņ' | 'Ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō'
        | 'Ő' => 'o',
        'ŕ' | 'ř' | 'Ŕ' | 'Ř' => 'r',
        'ś' | 'ş' | 'š' | 'ș' | 'Ś' | 'Ş' | 'Š' | 'Ș' => 's',
        'ţ' | 'ť' | 'ț' | 'Ţ' | 'Ť' | 'Ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű'
        | 'Ų' => 'u',
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => 'y',
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => 'z',
        'ß' => {
            out.push_str("ss");
            return;
        }
        'æ' | 'Æ' => {
            out.push_str("ae");
            return;
        }
        'œ' | 'Œ' => {
            out.push_str("oe");
            return;
        }
        _ => {
            for l in c.to_lowercase() {
                out.push(l);
            }
            return;
        }
    };
    out.push(base);
}

pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// One word of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Folded form.
    pub norm: String,
    /// Starts with an upper-case letter as written.
    pub capital: bool,
    /// Came from a hashtag.
    pub hashtag: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}

/// Splits `PrayForSantaMaria` into its words.
fn camel_split(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        cur.push(c);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Longest text looked at; posts are short, this bounds hostile input.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Tokenises a text into segments of words. URLs and mentions (`@user`) are dropped. A hashtag is
/// a word of the main segment and, when written in CamelCase, also a segment of its own words.
pub fn segments(text: &str) -> Vec<Vec<Token>> {
    let text = crate::feeds::cut(text, MAX_TEXT_BYTES);
    let mut main = Vec::new();
    let mut extra = Vec::new();
    for raw in text.split_whitespace() {
        if raw.starts_with("http://")
            || raw.starts_with("https://")
            || raw.starts_with('@')
            || raw.starts_with("RT") && raw.len() == 2
        {
            continue;
        }
        let hashtag = raw.starts_with('#');
        for piece in raw
            .split(|c: char| !is_word_char(c))
            .filter(|p| !p.is_empty())
        {
            let piece = piece.trim_matches('\'');
            if piece.is_empty() {
                continue;
            }
            let capital = piece.chars().next().is_some_and(char::is_uppercase);
            main.push(Token {
                norm: fold(piece),
                capital,
                hashtag,
            });
            if hashtag {
                let parts = camel_split(piece);
                if parts.len() > 1 {
                    extra.push(
                        parts
                            .iter()
                            .map(|p| Token {
                                norm: fold(p),
                                capital: true,
                                // Parts are words written as names, not a whole tag.
                                hashtag: false,
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    let mut out = vec![main];
    out.extend(extra);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_splits_hashtags() {
        assert_eq!(
            fold("Incêndio São Paulo Ñandú Straße"),
            "incendio sao paulo nandu strasse"
        );
        let s = segments("RT @zh: Fogo na boate em #SantaMaria https://t.co/x");
        let words: Vec<&str> = s[0].iter().map(|t| t.norm.as_str()).collect();
        assert_eq!(words, ["fogo", "na", "boate", "em", "santamaria"]);
        let tag: Vec<&str> = s[1].iter().map(|t| t.norm.as_str()).collect();
        assert_eq!(tag, ["santa", "maria"]);
        assert!(s[0][0].capital && !s[0][1].capital && s[0][4].hashtag);
    }
}
