"""Drives a real egsh in a pseudo-terminal for shell-pty.test.sh (Debian's python3-pexpect).

Usage: shell_pty.py --egsh BIN --socket PATH --netns NS --config FILE --history FILE
Each step says what it checks; the first failure is printed and the exit status is 1.
"""
import argparse
import re
import subprocess
import sys

import pexpect

HOST = "egress-pty"
TIMEOUT = 10


class StepFailed(Exception):
    pass


def spawn(args):
    """egsh on a 60x200 terminal, its history in args.history."""
    env = {"TERM": "xterm", "EGSH_HISTORY": args.history, "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}
    child = pexpect.spawn(args.egsh, ["--socket", args.socket], env=env, encoding="utf-8",
                          timeout=TIMEOUT, dimensions=(60, 200))
    child.logfile_read = Transcript()
    return child


class Transcript:
    """Keeps what egsh printed, for the failure report."""
    text = ""

    def write(self, s):
        Transcript.text += s

    def flush(self):
        pass


def expect(child, pattern, what):
    try:
        child.expect(pattern)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        raise StepFailed(f"{what}: did not see {pattern!r} ({type(e).__name__})")


def prompt(mode=""):
    return re.escape(f"{HOST}{mode}# ")


def kernel_addresses(netns):
    out = subprocess.run(["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", "tgw0"],
                         capture_output=True, text=True, check=False).stdout
    return re.findall(r"inet (\S+)", out)


def session_one(args):
    child = spawn(args)
    expect(child, prompt(), "first prompt")

    # A unique abbreviation runs the command.
    child.send("sh ver\r")
    expect(child, r"egressd \d+\.\d+\.\d+ ", "`sh ver` shows the version")
    expect(child, prompt(), "prompt after sh ver")

    # TAB completes the keyword (and adds a blank); RETURN runs the completed line.
    child.send("show int\t")
    expect(child, "erfaces ", "TAB completes `show int` to `show interfaces `")
    child.send("\r")
    expect(child, r"tgw0 is up", "completed `show interfaces` runs")
    expect(child, prompt(), "prompt after show interfaces")

    # TAB completes live values: the tunnel name.
    child.send("show interfaces tg\t")
    expect(child, "w0 ", "TAB completes the live tunnel name tgw0")
    child.send("\r")
    expect(child, r"Internet address is 169\.254\.6\.1/29", "show interfaces tgw0")
    expect(child, prompt(), "prompt after show interfaces tgw0")

    # `?` lists the next words with help and leaves the line as it was.
    child.send("show ?")
    expect(child, r"interfaces +Interface status and counters", "`show ?` lists interfaces with help")
    expect(child, r"version +Software version and uptime", "`show ?` lists version with help")
    expect(child, prompt() + "show ", "line redisplayed after ?")
    child.send("version\r")
    expect(child, r"egressd \d+\.\d+\.\d+ ", "the line kept after ? still runs")
    expect(child, prompt(), "prompt after show version")

    # A bad word: the caret sits under it, below the prompted line.
    child.send("show bogus\r")
    expect(child, r"\r\n( *)\^\r\n% Invalid input detected at '\^' marker\.", "caret error for `show bogus`")
    caret_column = len(child.match.group(1))
    wanted = len(f"{HOST}# show ")
    if caret_column != wanted:
        raise StepFailed(f"caret at column {caret_column}, wanted {wanted} (under 'bogus')")
    expect(child, prompt(), "prompt after the error")

    # Config mode with its prompts; a line takes effect when entered.
    child.send("conf t\r")
    expect(child, prompt("(config)"), "`conf t` prompt")
    child.send("interface tgw0\r")
    expect(child, prompt("(config-if)"), "`interface tgw0` prompt")
    child.send("ip address 169.254.7.1/29\r")
    expect(child, prompt("(config-if)"), "prompt after ip address")
    child.send("ip address 169.254.7.1/40\r")
    expect(child, r"\^\r\n% Invalid input detected at '\^' marker\. \(prefix length must be 0-32",
           "a bad prefix is refused with a caret")
    expect(child, prompt("(config-if)"), "prompt after the refused line")
    child.send("do show interfaces tgw0 | include Internet\r")
    expect(child, r"Internet address is 169\.254\.7\.1/29", "`do show ... | include` in config-if")
    expect(child, prompt("(config-if)"), "prompt after do")
    child.send("end\r")
    expect(child, prompt(), "`end` returns to exec")

    child.send("show interfaces tgw0 json\r")
    expect(child, r'"ipv4": "169\.254\.7\.1/29"', "show interfaces tgw0 json has the new address")
    expect(child, prompt(), "prompt after json")
    addresses = kernel_addresses(args.netns)
    if addresses != ["169.254.7.1/29"]:
        raise StepFailed(f"kernel addresses of tgw0 are {addresses}, wanted ['169.254.7.1/29']")

    # write memory: the new file, the previous one as FILE.bak.
    child.send("write memory\r")
    expect(child, r"\[OK\]", "write memory")
    expect(child, prompt(), "prompt after write memory")
    saved = open(args.config).read()
    backup = open(args.config + ".bak").read()
    if " ip address 169.254.7.1/29\n" not in saved:
        raise StepFailed(f"saved config lacks the new address:\n{saved}")
    if " ip address 169.254.6.1/29\n" not in backup:
        raise StepFailed(f"backup lacks the old address:\n{backup}")

    child.send("exit\r")
    expect(child, pexpect.EOF, "`exit` ends egsh")


def session_two(args):
    # History survives a restart: ^P recalls the last line of the previous run.
    child = spawn(args)
    expect(child, prompt(), "prompt of the second egsh")
    child.send("\x10")
    expect(child, "exit", "^P recalls `exit`, the last line of the previous run")
    child.send("\x10")
    expect(child, "write memory", "^P again recalls `write memory`")
    child.send("\x10")
    expect(child, "show interfaces tgw0 json", "^P again recalls the command before")
    child.send("\r")
    expect(child, r'"ipv4": "169\.254\.7\.1/29"', "the recalled command runs")
    expect(child, prompt(), "prompt after the recalled command")
    # Output longer than the window stops at --More--; q returns to the prompt.
    child.setwinsize(12, 200)
    child.send("show interfaces tgw0 json\r")
    expect(child, "--More--", "long output is paged")
    child.send(" ")
    expect(child, "--More--", "SPACE shows the next page")
    child.send("q")
    expect(child, prompt(), "q leaves the pager")
    child.sendeof()
    expect(child, pexpect.EOF, "^D ends egsh")


def main():
    parser = argparse.ArgumentParser()
    for option in ("--egsh", "--socket", "--netns", "--config", "--history"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    try:
        session_one(args)
        session_two(args)
    except StepFailed as e:
        print(f"step failed: {e}")
        print("--- egsh transcript (last 1500 characters):")
        print(Transcript.text[-1500:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
