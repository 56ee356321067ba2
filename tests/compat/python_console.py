#!/usr/bin/env python3
"""Console test: the RFB server behind /console, reached by HTTP CONNECT (raw RFB after
"200 OK") and by WebSocket upgrade (subprotocol binary); the desktop name is the VM's name
and the screen has the name drawn in white. Usage: python_console.py <master url>"""
import base64
import json
import os
import socket
import struct
import sys
import urllib.request

import ssl

url = sys.argv[1]
TLS = url.startswith("https")
CTX = ssl._create_unverified_context() if TLS else None
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} [console] {name}{' — ' + str(detail) if detail else ''}")


host, port = url.split('//')[1].split(':'); port = int(port)
def rpc(m, p):
    r = urllib.request.urlopen(context=CTX, url=urllib.request.Request(url + '/jsonrpc', json.dumps({"jsonrpc":"2.0","method":m,"params":p,"id":1}).encode(), {'content-type':'application/json'}))
    return json.loads(r.read())['result']
s = rpc('session.login_with_password', ['root','password'])
cons = rpc('console.get_all_records', [s])
ref, c = next(iter(cons.items()))
vm = rpc('VM.get_name_label', [s, c['VM']])
loc = c['location']; print('location', loc, 'vm', vm)
path = loc.split(str(port))[1]
def rfb_handshake(recv, send):
    ver = recv(12); assert ver == b'RFB 003.008\n', ver
    send(b'RFB 003.008\n')
    n = recv(1)[0]; types = recv(n); assert 1 in types, types
    send(b'\x01'); assert recv(4) == b'\0\0\0\0'
    send(b'\x01')
    w, h = struct.unpack('>HH', recv(4)); recv(16); l = struct.unpack('>I', recv(4))[0]
    return w, h, recv(l).decode()
def exact(sock):
    def recv(n):
        b = b''
        while len(b) < n:
            d = sock.recv(n - len(b)); assert d, 'closed'; b += d
        return b
    return recv
socket.setdefaulttimeout(20)


def connect():
    so = socket.create_connection((host, port))
    return CTX.wrap_socket(so, server_hostname=host) if TLS else so


if not TLS:  # CONNECT is served on plain HTTP only
    so = socket.create_connection((host, port))
    so.sendall(f'CONNECT {path}&session_id={s} HTTP/1.0\r\nHost: {host}\r\n\r\n'.encode())
    hdr = b''
    while not hdr.endswith(b'\r\n\r\n'):
        c = so.recv(1)
        assert c, 'connection closed'
        hdr += c
    check('CONNECT answers 200', hdr.startswith(b'HTTP/1.1 200 OK'), hdr.split(b'\r\n')[0])
    w, h, name = rfb_handshake(exact(so), so.sendall)
    check('RFB over CONNECT, desktop name = VM name', name == vm, (w, h, name))
    so.sendall(struct.pack('>BBHHHH', 3, 0, 0, 0, w, h))  # FramebufferUpdateRequest, full
    recv = exact(so)
    recv(2)
    nrects = struct.unpack('>H', recv(2))[0]
    white = 0
    for _ in range(nrects):
        x, y, rw, rh, enc = struct.unpack('>HHHHi', recv(12))
        data = recv(rw * rh * 4) if enc == 0 else b''
        white += sum(1 for i in range(0, len(data), 4) if data[i:i + 3] == b'\xff\xff\xff')
    check('the screen shows text', white > 500, f'{white} white pixels')
    so.close()

# websocket
ws = connect()
key = base64.b64encode(os.urandom(16)).decode()
ws.sendall(f'GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\nCookie: session_id={s}\r\n\r\n'.encode())
hdr = b''
while not hdr.endswith(b'\r\n\r\n'):
    c = ws.recv(1)
    assert c, 'connection closed'
    hdr += c
check('WebSocket upgrade answers 101', hdr.startswith(b'HTTP/1.1 101'), hdr.split(b'\r\n')[0])
r = exact(ws); buf = bytearray()
def wrecv(n):
    while len(buf) < n:
        b0, b1 = r(2); ln = b1 & 127
        if ln == 126: ln = struct.unpack('>H', r(2))[0]
        elif ln == 127: ln = struct.unpack('>Q', r(8))[0]
        buf.extend(r(ln))
    out = bytes(buf[:n]); del buf[:n]; return out
def wsend(data):
    mask = os.urandom(4); m = bytes(d ^ mask[i % 4] for i, d in enumerate(data))
    ws.sendall(bytes([0x82, 0x80 | len(data)]) + mask + m)
w, h, name = rfb_handshake(wrecv, wsend)
check('RFB over WebSocket', name == vm, (w, h, name))
so = connect()
so.sendall(f'GET {path}&session_id=OpaqueRef:bad HTTP/1.1\r\nHost: {host}\r\n'
           f'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
           f'Sec-WebSocket-Version: 13\r\n\r\n'.encode())
check('a console without a session is refused', so.recv(64).startswith(b'HTTP/1.1 401'))
print(f"compat: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
