// Package recorder writes the archive of live runs: fragmented MP4 segments
// in pure Go (mediacommon's fmp4, no re-encode), a manifest whose lines form
// a sha256 hash chain, and the tools that check, copy, list, serve and
// expire what was written. See docs/archive.md.
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
//	rec.Recordings(ctx, "demo")                   // GET /api/v1/sessions/{id}/recordings (verified once per change)
//	recorder.OpenFile(root, run, path)            // GET /api/v1/recordings/{run}/{path}; serve with http.ServeContent
//	recorder.VerifyContext(ctx, dir, opts)        // diemcau archive verify (opts: key, the witness's record)
//	recorder.Export(ctx, dir, dest, pub, stderr)  // diemcau archive export
//
// # Witness
//
// WithWitness gives the recorder a keeper outside the archive (the
// server's store): after every manifest line reaches the disk it is told
// the run's line count, the sha256 of that line and whether it was the
// seal. A manifest cut short with its seal, or rewritten with a valid
// chain, disagrees with that record; repair refuses such a run and
// verify reports it (ProblemWitness). WithVerifyResults keeps
// Recordings' results across restarts, keyed by a fingerprint of the
// run's files (size, times, inode), the witness's record and the key.
// Recordings verifies each run at most once at a time for all callers,
// and stops hashing when no caller is left.
//
// Disk: below MinFree, or on ENOSPC, a stream closes its segment as far as
// it got and stops (RunStatus.DiskStopped, with the reason; logged once);
// it checks once a second while frames arrive and resumes in a new segment
// at the next keyframe when there is room again (after ENOSPC, 16 MiB more
// than MinFree). Manifest lines that could not be written wait and are
// written, in order, before the next one.
//
// Crash: Recorder.Run starts by finding run folders without a seal that are
// not live. A crash leaves at most a torn last manifest line and, per
// stream, the segments after its last listed one (the one open, and any
// whose line was waiting for disk space): repair cuts each of those back to
// its last complete fragment, removes files without one, writes their
// segment lines and an interruption line (which also keeps the torn line's
// bytes) and seals with reason "interrupted". Anything a crash cannot
// explain makes repair leave the run exactly as found, for verify to
// report: a seal anywhere (a sealed run is never sealed again), a line that
// is not a manifest line before the last, a broken chain, a manifest that
// disagrees with the witness or that the witness saw sealed, a missing
// manifest with segments present, a listed file gone, or an unlisted
// segment that is not one of the crash's. Without a witness, a tail cut off
// with its seal looks like a crash; the repair's seal then says
// "interrupted" and names the segments it adopted.
//
// Folders: each new folder's name is synced into its parent (root, session,
// run, sources/) whatever archive.fsync says. Retention renames a run to a
// hidden ".{stamp}.deleting" folder, syncs, then deletes it, so a crash
// midway leaves nothing that looks like a damaged run; it removes an empty
// session folder under the recorder's lock, so a run starting in it
// meanwhile never loses its folder.
package recorder
