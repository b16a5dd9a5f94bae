//! Starting the real `clerk` binary on a free loopback port, and stopping it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `clerk serve`; stopped with SIGTERM when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: mpsc::Receiver<String>,
}

/// The `clerk` binary built for these tests.
pub fn clerk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clerk"))
}

impl Server {
    /// Runs `clerk serve --addr 127.0.0.1:0` with `args` and the repository's
    /// configuration, and waits until it listens.
    pub fn start(data_dir: &Path, args: &[&str]) -> Server {
        Server::start_with_config(data_dir, Path::new(env!("CARGO_MANIFEST_DIR")), args)
    }

    /// The same with another configuration folder.
    pub fn start_with_config(data_dir: &Path, config_dir: &Path, args: &[&str]) -> Server {
        Server::launch(data_dir, config_dir, args, &[])
    }

    /// The same with environment variables set for the server.
    pub fn start_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::launch(data_dir, Path::new(env!("CARGO_MANIFEST_DIR")), args, env)
    }

    fn launch(data_dir: &Path, config_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = clerk()
            .envs(env.iter().copied())
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config-dir")
            .arg(config_dir)
            .args(args)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start clerk serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(300)) {
                Ok(line) => {
                    // The address runs up to the first character that cannot be in
                    // one (the end of a plain line, a quote in a JSON log line).
                    if let Some(rest) = line.split("http://").nth(1) {
                        let addr: String = rest
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']')
                            })
                            .collect();
                        break format!("http://{addr}");
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("clerk serve did not start; it said:\n{}", seen.join("\n"));
                }
            }
        };
        Server {
            child,
            base,
            log: rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM and waits; returns whether the process exited cleanly.
    pub fn stop(&mut self) -> bool {
        terminate(&self.child);
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                if !status.success() {
                    eprintln!("clerk serve ended with {status}");
                }
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGHUP to a child process (reload the configuration).
pub fn hangup(child: &Child) {
    // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGHUP);
    }
}

/// Sends SIGTERM to a child process.
pub fn terminate(child: &Child) {
    // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}
