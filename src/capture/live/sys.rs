//! The Linux system calls behind live capture: the AF_PACKET socket and its options, the
//! TPACKET_V3 receive ring, the plain `recvfrom` path, privilege dropping and the stop signals.
//!
//! This is the only module of synscope with `unsafe` code. Each unsafe block calls into libc
//! with pointers to live, correctly sized values it owns, or reads the ring memory the kernel
//! shares with us under the ring's ownership protocol (packet_mmap.rst); the comment on each
//! block says why it is sound. Everything above this module is safe Rust.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{size_of, size_of_val};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::bpf::Insn;

/// `ETH_P_ALL` in network byte order, as `sll_protocol` wants it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `socket(AF_PACKET, SOCK_RAW, 0)`. Protocol 0: the socket receives nothing until it is bound
/// with a protocol, so options and the filter are all in place before the first packet.
pub fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments; on success the returned descriptor is
    // new and owned by nobody else, so OwnedFd may take it.
    unsafe {
        let fd = cvt(libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            0,
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

fn sockaddr_ll(ifindex: u32, protocol_be: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is a plain C struct of integers and byte arrays: all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol_be;
    sll.sll_ifindex = ifindex as i32;
    sll
}

/// Binds to one interface. `all = false` binds with protocol 0 (no packet is delivered yet);
/// `all = true` binds with ETH_P_ALL, which starts delivery.
pub fn bind(fd: &OwnedFd, ifindex: u32, all: bool) -> io::Result<()> {
    let sll = sockaddr_ll(ifindex, if all { ETH_P_ALL_BE } else { 0 });
    // SAFETY: `sll` is a valid sockaddr_ll that lives across the call; the length passed is its
    // exact size.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// The bound interface's hardware type (ARPHRD_*), from the socket's own address.
pub fn hardware_type(fd: &OwnedFd) -> io::Result<u16> {
    let mut sll = sockaddr_ll(0, 0);
    let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `sll`, which is that large and ours.
    cvt(unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut sll as *mut libc::sockaddr_ll).cast(),
            &mut len,
        )
    })?;
    Ok(sll.sll_hatype)
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live, initialised T of the size passed; the kernel only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `PACKET_IGNORE_OUTGOING` (Linux >= 4.20): the socket does not receive the copies of packets
/// this host sends. On `lo` every packet is seen twice, once leaving (PACKET_OUTGOING) and once
/// arriving (PACKET_HOST); this keeps only the arriving copy, decided by the kernel per packet.
pub fn ignore_outgoing(fd: &OwnedFd) -> io::Result<()> {
    setsockopt(
        fd,
        libc::SOL_PACKET,
        libc::PACKET_IGNORE_OUTGOING,
        &1 as &libc::c_int,
    )
}

/// Attaches a classic BPF program (`SO_ATTACH_FILTER`); the kernel copies and checks it.
pub fn attach_filter(fd: &OwnedFd, prog: &[Insn]) -> io::Result<()> {
    let mut filters: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(filters.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "filter too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: filters.as_mut_ptr(),
    };
    // `fprog` points into `filters`, which outlives the call; the kernel copies the program.
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Asks for a receive buffer of `bytes` for the `recvfrom` path: SO_RCVBUFFORCE (root or
/// CAP_NET_ADMIN, beyond `net.core.rmem_max`), else SO_RCVBUF up to the limit.
pub fn set_rcvbuf(fd: &OwnedFd, bytes: u32) {
    let v = bytes.min(i32::MAX as u32) as libc::c_int;
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &v).is_err() {
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &v);
    }
}

/// `PACKET_STATISTICS`: packets that passed the filter (dropped ones included) and packets
/// dropped for want of room, since the previous call (the kernel resets both on read).
pub fn packet_statistics(fd: &OwnedFd) -> io::Result<(u32, u32)> {
    let mut st = libc::tpacket_stats_v3 {
        tp_packets: 0,
        tp_drops: 0,
        tp_freeze_q_cnt: 0,
    };
    let mut len = size_of_val(&st) as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes (12 for TPACKET_V3, 8 for the older
    // tpacket_stats whose layout is the same prefix) into `st`, which we own.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats_v3).cast(),
            &mut len,
        )
    })?;
    Ok((st.tp_packets, st.tp_drops))
}

/// Waits until the socket is readable or `timeout` passes. Returns false on timeout or EINTR
/// (a signal arrived: the caller checks its stop flag).
pub fn poll_readable(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd that lives across the call, and nfds = 1.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    if p.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(socket_error(fd));
    }
    Ok(r > 0)
}

/// The pending error of a socket whose poll reported POLLERR (e.g. ENETDOWN).
fn socket_error(fd: &OwnedFd) -> io::Error {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes one c_int into `err`, which we own.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r == 0 && err != 0 {
        io::Error::from_raw_os_error(err)
    } else {
        io::Error::other("the capture socket reported an error")
    }
}

/// Asks for a nanosecond receive timestamp with every packet read by [`recv_one`].
pub fn enable_timestamps(fd: &OwnedFd) -> io::Result<()> {
    setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPNS,
        &1 as &libc::c_int,
    )
}

/// One non-blocking `recvmsg` into `buf`: `Ok(None)` when nothing is queued, else the bytes
/// stored, the packet's length on the wire (MSG_TRUNC), and its receive time in ns (from the
/// SCM_TIMESTAMPNS control message; 0 if absent).
pub fn recv_one(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<(usize, usize, u64)>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsghdr (16 bytes) and a timespec (16), u64-aligned as cmsghdr requires.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is a plain C struct; all-zero is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: `msg` points to `iov` (which describes `buf`, a live exclusive slice) and to
    // `control`; all outlive the call and the kernel writes within the lengths given.
    let n = unsafe {
        libc::recvmsg(
            fd.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(e),
        };
    }
    let wire = n as usize;
    let mut ns = 0u64;
    // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR walk the control buffer the kernel filled, within
    // msg_controllen, returning null at its end; a header they return lies inside `control`.
    // The timestamp is read unaligned from CMSG_DATA, which holds a timespec for
    // SCM_TIMESTAMPNS (socket(7)).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                ns = (ts.tv_sec.max(0) as u64).saturating_mul(1_000_000_000)
                    + ts.tv_nsec.max(0) as u64;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Some((wire.min(buf.len()), wire, ns)))
}

/// TPACKET_V3 ring geometry (packet_mmap.rst, "TPACKET_V3").
#[derive(Debug, Clone, Copy)]
pub struct RingGeometry {
    pub block_size: u32,
    pub block_count: u32,
    pub frame_size: u32,
    pub block_timeout_ms: u32,
}

/// The receive ring mapped into our address space. Blocks alternate between kernel and user
/// ownership through each block's `block_status` word.
pub struct Ring {
    base: NonNull<u8>,
    len: usize,
    block_size: usize,
    block_count: usize,
}

// SAFETY: the ring is plain shared memory reached through a raw pointer; nothing about it is
// tied to the thread that mapped it, and Ring's methods take &mut self to hand out blocks, so a
// ring moved to the capture thread is used from one thread at a time.
unsafe impl Send for Ring {}

/// Offset of `hdr.bh1.block_status` in `struct tpacket_block_desc`: after `version` and
/// `offset_to_priv` (two u32s).
const BLOCK_STATUS_OFFSET: usize = 8;

impl Ring {
    /// Switches the socket to TPACKET_V3, asks the kernel for the ring and maps it.
    pub fn setup(fd: &OwnedFd, g: RingGeometry) -> io::Result<Ring> {
        setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V3 as libc::c_int),
        )?;
        let frames_per_block = g.block_size / g.frame_size.max(1);
        let req = libc::tpacket_req3 {
            tp_block_size: g.block_size,
            tp_block_nr: g.block_count,
            tp_frame_size: g.frame_size,
            tp_frame_nr: frames_per_block.saturating_mul(g.block_count),
            tp_retire_blk_tov: g.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = (g.block_size as usize).saturating_mul(g.block_count as usize);
        // SAFETY: mapping the ring the kernel just allocated for this socket, at a fresh address
        // of its choosing, `len` bytes as requested in PACKET_RX_RING. Nothing else aliases it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Ring {
            base,
            len,
            block_size: g.block_size as usize,
            block_count: g.block_count as usize,
        })
    }

    pub fn block_count(&self) -> usize {
        self.block_count
    }

    fn status(&self, idx: usize) -> &AtomicU32 {
        let off = (idx % self.block_count) * self.block_size + BLOCK_STATUS_OFFSET;
        // SAFETY: `off + 4 <= len` (idx < block_count, block_size >= page size), the mapping is
        // page-aligned so the word at a block start + 8 is 4-aligned, and the kernel accesses
        // this word concurrently with its own barriers, which is what an atomic is for. The
        // reference lives no longer than &self, and the mapping lives as long as self.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast::<u32>()) }
    }

    /// Whether the kernel has handed block `idx` to user space (TP_STATUS_USER).
    pub fn ready(&self, idx: usize) -> bool {
        // Acquire pairs with the kernel's smp_wmb before it sets TP_STATUS_USER: the block's
        // contents are visible once the status is.
        self.status(idx).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Block `idx` if the kernel has handed it to user space.
    pub fn take(&mut self, idx: usize) -> Option<Block<'_>> {
        let idx = idx % self.block_count;
        if !self.ready(idx) {
            return None;
        }
        Some(Block { ring: self, idx })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mmap returned; no Block borrows it any more
        // (they borrow the Ring).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// A ring block owned by user space; dropping it hands the block back to the kernel.
pub struct Block<'a> {
    ring: &'a Ring,
    idx: usize,
}

impl Block<'_> {
    /// The block's bytes: its descriptor and packets.
    pub fn bytes(&self) -> &[u8] {
        let off = self.idx * self.ring.block_size;
        // SAFETY: the block lies inside the mapping (idx < block_count). While its status
        // carries TP_STATUS_USER the kernel does not write to it (packet_mmap.rst: the block
        // belongs to user space until it sets TP_STATUS_KERNEL), so a shared slice is valid
        // for as long as this Block lives, and the slice cannot outlive &self.
        unsafe {
            std::slice::from_raw_parts(self.ring.base.as_ptr().add(off), self.ring.block_size)
        }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Release: our reads of the block happen before the kernel may reuse it.
        self.ring
            .status(self.idx)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

/// Real and effective user ids.
pub fn ids() -> (u32, u32) {
    // SAFETY: getuid/geteuid cannot fail and take no arguments.
    unsafe { (libc::getuid(), libc::geteuid()) }
}

extern "C" {
    // glibc and musl: sets the supplementary groups to those of `user` plus `group`.
    fn initgroups(user: *const libc::c_char, group: libc::gid_t) -> libc::c_int;
}

/// Becomes `uid`/`gid` for good: supplementary groups (those of `user` if known, else none),
/// then gid, then uid (in that order: after setuid we could no longer change groups). Then
/// checks that root cannot be regained.
pub fn become_user(uid: u32, gid: u32, user: Option<&str>) -> io::Result<()> {
    let name = user.and_then(|u| CString::new(u).ok());
    match &name {
        // SAFETY: `n` is a NUL-terminated string that outlives the call.
        Some(n) => cvt(unsafe { initgroups(n.as_ptr(), gid) })?,
        // SAFETY: an empty group list; the pointer is not read when the count is 0.
        None => cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?,
    };
    // SAFETY: plain system calls with integer arguments. glibc applies them to every thread.
    unsafe {
        cvt(libc::setgid(gid))?;
        cvt(libc::setuid(uid))?;
    }
    // SAFETY: as above; these must fail now.
    let regained = unsafe { libc::setuid(0) == 0 || libc::setgid(0) == 0 };
    let (r, e) = ids();
    if regained || r != uid || e != uid {
        return Err(io::Error::other("privileges could not be dropped for good"));
    }
    Ok(())
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Async-signal-safe: a lock-free atomic store.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs handlers for SIGINT and SIGTERM that set the returned flag. SA_RESETHAND restores
/// the default action after the first signal, so a second Ctrl-C ends a stuck shutdown.
pub fn stop_on_signals() -> io::Result<&'static AtomicBool> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is a plain C struct; all-zero is a valid empty one. The handler is
        // an extern "C" fn that only does an atomic store, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            cvt(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(&STOP)
}
