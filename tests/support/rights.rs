//! Who this test runs as, and how to run synscope without capture rights.

use std::process::Command;

/// The synscope binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_synscope");

/// util-linux `setpriv` arguments that run what follows as nobody with no capability at all.
const AS_NOBODY: [&str; 6] = [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--",
];

/// The effective uid of this process (from /proc/self/status).
pub fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// `synscope` run as nobody without any capability (util-linux setpriv) when root, or as this
/// user otherwise (who has no capture rights either, unless the binary was given them with
/// setcap). Arguments go after it.
pub fn synscope_without_rights() -> Command {
    if euid() == 0 {
        let mut c = Command::new("setpriv");
        c.args(AS_NOBODY).arg(BIN);
        c
    } else {
        Command::new(BIN)
    }
}

/// [`synscope_without_rights`] as the start of a shell command line (`'BIN'` quoted).
pub fn synscope_without_rights_shell() -> String {
    if euid() == 0 {
        format!("setpriv {} '{BIN}'", AS_NOBODY.join(" "))
    } else {
        format!("'{BIN}'")
    }
}
