//! Builds the dashboard in `web/` with Vite into `OUT_DIR` and generates `assets.rs`, which
//! embeds every built file with its content type.
//!
//! `npm ci` runs only when `web/node_modules` is missing or older than `package-lock.json`, so
//! the build works offline once the packages are installed. Clippy, tests and builds may run this
//! script at the same time: an exclusive lock on `web/.build.lock` keeps them from installing
//! into `node_modules` concurrently.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let web = web.canonicalize().unwrap_or_else(|e| {
        fail(&format!(
            "the dashboard sources are missing ({}: {e})",
            web.display()
        ))
    });
    for item in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(item).display());
    }
    let out = PathBuf::from(env("OUT_DIR"));
    let dist = out.join("dist");

    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".to_owned());
    match Command::new(&npm).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => fail(&format!(
            "`{npm}` was not found: building the web dashboard needs Node.js 20.19 or newer with \
             npm (e.g. `apt-get install nodejs npm`), or set NPM to its path"
        )),
    }

    check_node();

    // One build at a time per checkout; the lock is released when this process ends.
    let lock = File::create(web.join(".build.lock"))
        .unwrap_or_else(|e| fail(&format!("cannot create web/.build.lock: {e}")));
    lock.lock()
        .unwrap_or_else(|e| fail(&format!("cannot lock web/.build.lock: {e}")));

    if needs_install(&web) {
        run(
            Command::new(&npm)
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
            "npm ci",
        );
    }
    run(
        Command::new(&npm)
            .args(["run", "build", "--", "--outDir"])
            .arg(&dist)
            .arg("--emptyOutDir")
            .current_dir(&web),
        "npm run build",
    );
    drop(lock);

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    if !files.iter().any(|(rel, _)| rel == "index.html") {
        fail("the dashboard build produced no index.html");
    }
    let mut code = String::from(
        "/// Every built file: path relative to the build folder, content type, bytes.\n\
         pub(crate) static FILES: &[(&str, &str, &[u8])] = &[\n",
    );
    for (rel, path) in &files {
        let _ = writeln!(
            code,
            "    ({rel:?}, {:?}, include_bytes!({:?})),",
            content_type(rel),
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    fs::write(out.join("assets.rs"), code)
        .unwrap_or_else(|e| fail(&format!("cannot write assets.rs: {e}")));
}

/// Vite 8 needs Node.js 20.19+ (or 22.12+); an older one fails with a clear message here rather
/// than deep inside the bundler.
fn check_node() {
    let out = Command::new("node").arg("--version").output();
    let Ok(out) = out else {
        fail("`node` was not found: building the web dashboard needs Node.js 20.19 or newer");
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let ok = major > 22 || (major == 22 && minor >= 12) || (major == 20 && minor >= 19);
    if !ok {
        fail(&format!(
            "Node.js {version} is too old to build the web dashboard: install Node.js 20.19+ or 22.12+"
        ));
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")))
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    panic!("tocsin-web: {msg}");
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `npm ci` is needed when nothing is installed or the lock file changed since.
fn needs_install(web: &Path) -> bool {
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    let wanted = modified(&web.join("package-lock.json"));
    match (installed, wanted) {
        (None, _) => true,
        (Some(i), Some(w)) => w > i,
        (Some(_), None) => false,
    }
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("{what} could not start: {e}")));
    if !output.status.success() {
        fail(&format!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
