// Package recorder writes the archive of live runs: fragmented MP4 segments
// in pure Go (mediacommon's fmp4, no re-encode), a manifest whose lines form
// a sha256 hash chain, and the tools that check, copy, list, serve and
// expire what was written. See CONTRACT.md, "Archive on disk".
//
// # Layout
//
//	{root}/{session}/{YYYYMMDDTHHMMSSZ}/     one folder per live run ("-2" if two start in one second)
//	    composite/000001.mp4 …               the composite
//	    sources/{id}/000001.mp4 …            each point as received
//	    manifest.jsonl                       the chained lines
//
// A segment file is an init (ftyp, moov), a prft box tying media time 0 to
// the wall clock, then one moof+mdat fragment per archive.part, each written
// in one write() and fsynced when archive.fsync is on. A file is cut at the
// first keyframe after archive.segment, and also when the codec parameters
// change (a new *pipeline.Track or another in-band SPS), when a stream
// delivers nothing for GapTimeout (a gap line follows when it returns), and
// when the disk runs low. Each segment's clock starts at 0 at its first
// keyframe and follows the source's own timestamps; its wall-clock start is
// in its manifest line (and its prft box). G.711 is stored as the 16-bit PCM
// it decodes to (ipcm): MP4 has no G.711 sample entry.
//
// # Manifest
//
// Lines, each with "prev" = sha256 (hex) of the previous line's bytes
// without its newline ("" on the first):
//
//	{"run": {"session","started","streams","segment_ms","part_ms","format"}, "prev"}
//	{"seq","stream","file","start","duration_ms","bytes","sha256","prev"}   a closed, fsynced segment
//	{"gap": {"stream","from","to"}, "prev"}
//	{"stream_event": {"stream","event","at"}, "prev"}                     "added" / "removed" while live
//	{"interruption": {"last_write","detected","recovered","truncated","discarded"}, "prev"}
//	{"seal": {"at","reason","lines","key","sig"}, "prev"}                  last line
//
// The seal's signature (ed25519, archive.signing_key) covers its prev, so it
// covers every line; see sealMessage.
//
// # Use
//
//	rec, err := recorder.New(cfg, log)            // validates, loads the signing key
//	go rec.Run(ctx)                               // repairs crashed runs, retention; on ctx end seals live runs
//	run, err := rec.StartRun("demo", map[string]*pipeline.Stream{
//		"composite": composite, "sources/tinh": tinh,
//	})
//	run.AddStream("sources/cam9", cam9)           // a point joins the live run: sources/cam9/000001.mp4 …
//	run.RemoveStream("sources/cam9")              // … and leaves it; back again, it goes on at the next number
//	run.Status()                                  // session status: recording {active, run, bytes, segments}
//	run.Stop()                                    // closes segments, writes the seal
//
//	rec.Recordings("demo")                        // GET /api/v1/sessions/{id}/recordings (cached verify)
//	recorder.OpenFile(root, run, path)            // GET /api/v1/recordings/{run}/{path}; serve with http.ServeContent
//	recorder.Verify(dir, pub)                     // diemcau archive verify
//	recorder.Export(ctx, dir, dest, pub, stderr)  // diemcau archive export
//
// Disk: below MinFree, or on ENOSPC, a stream closes its segment as far as
// it got and stops (RunStatus.DiskStopped, with the reason; logged once);
// it checks once a second while frames arrive and resumes in a new segment
// at the next keyframe when there is room again (after ENOSPC, 16 MiB more
// than MinFree). Manifest lines that could not be written wait and are
// written, in order, before the next one.
//
// Crash: Recorder.Run starts by finding run folders without a seal that are
// not live; it cuts each unlisted segment back to its last complete
// fragment, removes files without one, writes their segment lines, an
// interruption line and a seal with reason "interrupted".
package recorder
