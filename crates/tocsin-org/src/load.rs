//! Reading the `org/` folder: each file parsed on its own (errors carry file, line and field), then
//! the whole cross-checked (unknown ids, duplicate badges and accounts), then indexed.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::model::{AssetsFile, NetworkFile, PeopleFile, SitesFile, TeamsFile};
use crate::{Org, OrgError, OrgErrors};

pub const SITES_FILE: &str = "sites.yaml";
pub const PEOPLE_FILE: &str = "people.yaml";
pub const ASSETS_FILE: &str = "assets.yaml";
pub const TEAMS_FILE: &str = "teams.yaml";
pub const NETWORK_FILE: &str = "network.yaml";

/// Every file the folder may hold; each is optional.
pub const ORG_FILES: [&str; 5] = [
    SITES_FILE,
    PEOPLE_FILE,
    ASSETS_FILE,
    TEAMS_FILE,
    NETWORK_FILE,
];

/// Largest organisation file read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The text of the organisation files, as read (kept to point errors at lines).
#[derive(Debug, Clone, Default)]
pub struct OrgSources {
    pub dir: PathBuf,
    /// `(file name, text)` for each file present.
    pub files: Vec<(String, String)>,
}

impl OrgSources {
    pub fn text(&self, name: &str) -> &str {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, t)| t.as_str())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Reads the files of `dir`. A missing folder is an empty organisation; an unexpected `.yaml`
/// file is an error, since it is most likely a misspelt name whose content would be ignored.
pub fn read_dir(dir: &Path) -> Result<OrgSources, OrgErrors> {
    let mut sources = OrgSources {
        dir: dir.to_owned(),
        files: Vec::new(),
    };
    if !dir.is_dir() {
        return Ok(sources);
    }
    let mut errors = Vec::new();
    let listing = std::fs::read_dir(dir).map_err(|e| {
        OrgErrors(vec![OrgError {
            file: dir.to_owned(),
            line: None,
            field: None,
            message: e.to_string(),
        }])
    })?;
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && !ORG_FILES.contains(&name.as_str())
        {
            errors.push(OrgError {
                file: entry.path(),
                line: None,
                field: None,
                message: format!(
                    "unknown organisation file; expected one of {}",
                    ORG_FILES.join(", ")
                ),
            });
        }
    }
    for name in ORG_FILES {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let fail = |message: String| OrgError {
            file: path.clone(),
            line: None,
            field: None,
            message,
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                errors.push(fail(format!("file is larger than {MAX_FILE_BYTES} bytes")));
                continue;
            }
            Err(e) => {
                errors.push(fail(e.to_string()));
                continue;
            }
            Ok(_) => {}
        }
        match std::fs::read_to_string(&path) {
            Ok(t) => sources.files.push((name.to_owned(), t)),
            Err(e) => errors.push(fail(e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(OrgErrors(errors))
    }
}

/// Reads, checks and indexes the organisation in `dir`.
pub fn load_dir(dir: &Path) -> Result<Org, OrgErrors> {
    parse_sources(&read_dir(dir)?)
}

/// The parsed files, before cross-checking.
#[derive(Debug, Clone, Default)]
pub struct OrgFiles {
    pub sites: SitesFile,
    pub people: PeopleFile,
    pub assets: AssetsFile,
    pub teams: TeamsFile,
    pub network: NetworkFile,
}

/// Parses, checks and indexes organisation texts.
pub fn parse_sources(src: &OrgSources) -> Result<Org, OrgErrors> {
    let mut errors = Vec::new();
    let mut files = OrgFiles::default();
    parse_into(src, SITES_FILE, &mut files.sites, &mut errors);
    parse_into(src, PEOPLE_FILE, &mut files.people, &mut errors);
    parse_into(src, ASSETS_FILE, &mut files.assets, &mut errors);
    parse_into(src, TEAMS_FILE, &mut files.teams, &mut errors);
    parse_into(src, NETWORK_FILE, &mut files.network, &mut errors);
    if !errors.is_empty() {
        return Err(OrgErrors(errors));
    }
    Org::build(files, Some(src))
}

fn parse_into<T: DeserializeOwned>(
    src: &OrgSources,
    name: &str,
    into: &mut T,
    errors: &mut Vec<OrgError>,
) {
    let text = src.text(name);
    if text.trim().is_empty() {
        return;
    }
    match parse_yaml(text) {
        Ok(v) => *into = v,
        Err((line, field, message)) => errors.push(OrgError {
            file: src.path(name),
            line,
            field,
            message,
        }),
    }
}

type ParseFailure = (Option<usize>, Option<String>, String);

fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<T, ParseFailure> {
    let de = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line());
        let mut message = inner.to_string();
        // The location is reported on its own; keep the message free of it.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        // The parser prefixes nested errors with their path, which is reported on its own.
        if let Some((head, rest)) = message.split_once(": ")
            && !head.contains(char::is_whitespace)
            && (head.contains('[') || head.contains('.'))
        {
            message = rest.to_owned();
        }
        let field = (field != "." && !field.is_empty() && field != "?").then_some(field);
        (line, field, message)
    })
}

/// Finds the line of the list item whose `id` (or other key) is `value`, in a YAML text.
pub(crate) fn line_of(text: &str, key: &str, value: &str) -> Option<usize> {
    line_after(text, 0, key, value)
}

/// The first line at or after `from` (1-based; 0 = start) that sets `key` to `value`, or that
/// lists `value` under `key` on its own line.
pub(crate) fn line_after(text: &str, from: usize, key: &str, value: &str) -> Option<usize> {
    let mut in_list = false;
    for (i, raw) in text.lines().enumerate() {
        if i + 1 < from {
            continue;
        }
        let l = raw.trim_start().trim_start_matches("- ").trim_start();
        if let Some(rest) = l.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let v = rest.trim();
            if unquote(v) == value {
                return Some(i + 1);
            }
            if v.starts_with('[') && v.split([',', '[', ']']).any(|p| unquote(p.trim()) == value) {
                return Some(i + 1);
            }
            in_list = v.is_empty();
            continue;
        }
        if in_list && raw.trim_start().starts_with("- ") && unquote(l.trim()) == value {
            return Some(i + 1);
        }
    }
    None
}

fn unquote(s: &str) -> &str {
    s.trim_matches(['"', '\''])
}
