"""Sticky processes: each client address always reaches the same `luot serve` process.

Several processes listen on one port with SO_REUSEPORT, and the kernel picks the process of
each new connection. By default it hashes the whole connection (addresses and ports), so a
Socket.IO client that long-polls over several connections would meet a process that does not
know its session. A small classic-BPF program, attached to the port's group of sockets, makes
the kernel pick by the client's address alone: the same machine, the same process (what
nginx's `hash $remote_addr` does, without a proxy in the way). Linux only.
"""

from __future__ import annotations

import ctypes
import socket
import struct

SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>
SKF_NET_OFF = -0x100000  # loads relative to the IP header (<linux/filter.h>)

# Classic BPF opcodes (<linux/bpf_common.h>, <linux/filter.h>).
LD_B_ABS, LD_W_ABS = 0x30, 0x20
RSH_K, XOR_X, MOD_K = 0x74, 0xAC, 0x94
JEQ_K, JA = 0x15, 0x05
TAX, RET_A = 0x07, 0x16


def _op(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
    """One `struct sock_filter`."""
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(processes: int) -> bytes:
    """The socket index (the process) for a connection: the client's address (IPv4, or the
    last 32 bits of IPv6), its bytes folded together, modulo the number of processes."""
    return b"".join(
        [
            _op(LD_B_ABS, SKF_NET_OFF),  # A = first byte of the IP header
            _op(RSH_K, 4),  # A = IP version
            _op(JEQ_K, 6, jt=0, jf=2),  # IPv6: next; IPv4: skip two
            _op(LD_W_ABS, SKF_NET_OFF + 20),  # A = last word of the IPv6 source
            _op(JA, 1),
            _op(LD_W_ABS, SKF_NET_OFF + 12),  # A = IPv4 source
            _op(TAX),
            _op(RSH_K, 16),
            _op(XOR_X),  # A ^= A >> 16
            _op(TAX),
            _op(RSH_K, 8),
            _op(XOR_X),  # A ^= A >> 8: every byte of the address counts
            _op(MOD_K, processes),
            _op(RET_A),
        ]
    )


def attach(sock: socket.socket, processes: int) -> None:
    """Makes the port's SO_REUSEPORT group of `sock` pick a process by client address. An
    index with no socket yet (a process still starting) falls back to the kernel's hash."""
    code = program(processes)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(code) // 8, ctypes.addressof(buffer))  # sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
