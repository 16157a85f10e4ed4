"""Ask the SSH agent at $SSH_AUTH_SOCK which keys it holds, as `ssh-add -l` does, without reading any key.

Lesson 06: a `RUN --mount=type=ssh` step finds the agent of the machine that runs `docker build --ssh default` at
$SSH_AUTH_SOCK; a step without the mount finds none. A step that clones a private repository over SSH (git, pip or
uv with a git+ssh URL) uses the same socket: the agent signs for it, and the private key never enters the build.

The agent protocol (draft-ietf-sshm-ssh-agent): each message is a 4-byte length, a type byte and its fields.
SSH_AGENTC_REQUEST_IDENTITIES (11) is answered by SSH_AGENT_IDENTITIES_ANSWER (12): a key count, then for each key
its public key blob (starting with the key type) and its comment.
"""
import os
import socket
import struct
import sys

REQUEST_IDENTITIES, IDENTITIES_ANSWER = 11, 12


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the agent closed the connection")
        data += chunk
    return data


def _string(buf: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack(">I", buf[pos:pos + 4])
    return buf[pos + 4:pos + 4 + n], pos + 4 + n


def main() -> int:
    path = os.environ.get("SSH_AUTH_SOCK")
    if not path:
        print("no SSH agent: SSH_AUTH_SOCK is not set in this step")
        return 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        try:
            sock.connect(path)
        except OSError as exc:  # e.g. a socket of uid 0, mode 0600, asked by another user
            print(f"SSH agent at {path}, but uid {os.getuid()} cannot use it: {exc.strerror}")
            return 0
        sock.sendall(struct.pack(">IB", 1, REQUEST_IDENTITIES))
        (length,) = struct.unpack(">I", _read(sock, 4))
        body = _read(sock, length)
    if body[0] != IDENTITIES_ANSWER:
        print(f"the agent at {path} answered message type {body[0]}")
        return 1
    (count,) = struct.unpack(">I", body[1:5])
    keys, pos = [], 5
    for _ in range(count):
        blob, pos = _string(body, pos)
        comment, pos = _string(body, pos)
        key_type, _ = _string(blob, 0)
        keys.append(f"{key_type.decode()} {comment.decode(errors='replace')}")
    print(f"SSH agent at {path}: {count} key(s): {', '.join(keys) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
