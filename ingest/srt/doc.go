// Package srt is SRT ingest: hardware encoders across the WAN call the
// listener (srt.listen) with stream id "#!::r=ingest/{id},m=publish" (or
// plain "ingest/{id}") and the source's AES passphrase, and send MPEG-TS.
// Each srt:// source waits for its encoder like a push:// source, in the
// same loop (ingest.PublisherSlot): one publisher at a time, offline when
// it stops sending for 2 s, its frames on the source's Feed so that the
// mixer, the recorder and viewers treat them like any other point's.
//
// SRT itself (handshake, encryption, retransmission within the latency)
// is github.com/datarhei/gosrt, pure Go; MPEG-TS is mediacommon's reader.
package srt
