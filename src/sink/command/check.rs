//! Finding the command before anything is watched, the way execvp will find
//! it later, so that a typo fails at once (exit 2) instead of at the first change.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::CommandSpec;

/// execvp's search path when PATH is unset (glibc's and musl's default).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Whether `spec.program` can be executed: a path (it contains `/`, relative
/// to the current directory) must name an executable file; a bare name must
/// be found on PATH. The error is one line naming the command and the fix.
pub fn check_command(spec: &CommandSpec) -> Result<(), String> {
    check_with_path(&spec.program, std::env::var_os("PATH"))
}

pub(super) fn check_with_path(program: &str, path_var: Option<OsString>) -> Result<(), String> {
    if program.is_empty() {
        return Err("the command after '--' is empty; give a program to run".into());
    }
    if program.contains('/') {
        return match probe(Path::new(program)) {
            Probe::Executable => check_interpreter(program, Path::new(program)),
            Probe::Missing => Err(format!(
                "cannot run '{program}': no such file{}; check the path",
                relative_hint(program)
            )),
            Probe::Directory => Err(format!(
                "cannot run '{program}': it is a directory; give the path of an executable file"
            )),
            Probe::NotExecutable => Err(format!(
                "cannot run '{program}': it is not executable; make it so with 'chmod +x {program}'"
            )),
        };
    }
    let path_var = path_var.unwrap_or_else(|| DEFAULT_PATH.into());
    let mut not_executable: Option<PathBuf> = None;
    for dir in path_dirs(&path_var) {
        let candidate = dir.join(program);
        match probe(&candidate) {
            Probe::Executable => return check_interpreter(program, &candidate),
            // execvp, too, keeps searching past a file it may not execute.
            Probe::NotExecutable => {
                not_executable.get_or_insert(candidate);
            }
            Probe::Missing | Probe::Directory => {}
        }
    }
    Err(match not_executable {
        Some(found) => format!(
            "cannot run '{program}': {} is not executable; make it so with 'chmod +x {}'",
            found.display(),
            found.display()
        ),
        None => format!(
            "cannot run '{program}': not found on PATH; check the spelling, install it, \
             or give its path (e.g. './{program}')"
        ),
    })
}

/// PATH entries; an empty one means the current directory, as for execvp.
fn path_dirs(path_var: &OsStr) -> impl Iterator<Item = PathBuf> {
    std::env::split_paths(path_var).map(|dir| {
        if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        }
    })
}

fn relative_hint(program: &str) -> String {
    if program.starts_with('/') {
        return String::new();
    }
    match std::env::current_dir() {
        Ok(cwd) => format!(" (relative to {})", cwd.display()),
        Err(_) => String::new(),
    }
}

/// A script's `#!` interpreter must exist too: otherwise exec fails with
/// "No such file or directory", which blames the script.
fn check_interpreter(program: &str, path: &Path) -> Result<(), String> {
    let Some(interpreter) = interpreter(path) else {
        return Ok(());
    };
    // A relative interpreter is resolved against the working directory at
    // exec time, as the kernel does; only an absolute one is checked here.
    if !interpreter.is_absolute() {
        return Ok(());
    }
    let shown = interpreter.display();
    match probe(&interpreter) {
        Probe::Executable => Ok(()),
        Probe::Missing => Err(format!(
            "cannot run '{program}': its interpreter {shown} (on its #! line) does not exist; \
             install it or fix the script's first line"
        )),
        Probe::Directory | Probe::NotExecutable => Err(format!(
            "cannot run '{program}': its interpreter {shown} (on its #! line) is not an \
             executable file; fix the script's first line"
        )),
    }
}

/// The interpreter a script names on its `#!` line, if it has one.
fn interpreter(path: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let read = file.read(&mut head).ok()?;
    let line = head[..read].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = std::str::from_utf8(line).ok()?;
    line.split_whitespace().next().map(PathBuf::from)
}

enum Probe {
    Executable,
    Missing,
    Directory,
    NotExecutable,
}

fn probe(path: &Path) -> Probe {
    match std::fs::metadata(path) {
        Err(_) => Probe::Missing,
        Ok(meta) if meta.is_dir() => Probe::Directory,
        Ok(_) if crate::os::executable(path) => Probe::Executable,
        Ok(_) => Probe::NotExecutable,
    }
}
