// Words of the console in Vietnamese (the default) and English. Static
// elements name their word with data-i18n (text), data-i18n-title,
// data-i18n-placeholder or data-i18n-label (aria-label).
const TEXT = {
  vi: {
    appTitle: 'Điểm cầu — Bảng điều khiển',
    signInTitle: 'Đăng nhập', tokenLabel: 'Mã truy cập của người điều hành',
    tokenHint: 'Mã chỉ được giữ trong thẻ trình duyệt này và mất khi đóng thẻ.',
    signIn: 'Đăng nhập', signOut: 'Đăng xuất', lang: 'English',
    tabSources: 'Nguồn', tabSessions: 'Phiên', tabRun: 'Điều khiển', tabChecks: 'Kiểm tra',
    tabInvites: 'Lời mời', tabRecordings: 'Bản ghi', tabAudit: 'Nhật ký',
    serverOk: 'Máy chủ: kết nối tốt', serverLost: 'Mất kết nối máy chủ', encoder: 'Bộ mã hoá',
    // source and session states
    st_online: 'Có tín hiệu', st_offline: 'Mất tín hiệu', st_connecting: 'Đang kết nối', st_error: 'Lỗi',
    ss_idle: 'Chờ', ss_rehearsal: 'Diễn tập', ss_live: 'Trực tiếp', ss_ended: 'Đã kết thúc',
    v_pass: 'Đạt', v_warn: 'Cảnh báo', v_fail: 'Không đạt',
    l_grid: 'Lưới', l_speaker: 'Người nói', l_pip: 'Hình trong hình', l_single: 'Một điểm',
    r_province: 'Tỉnh', r_local: 'Địa phương', r_central: 'Trung ương',
    k_manual: 'Thủ công', 'k_t-24h': 'Tự động T-24 giờ', 'k_t-2h': 'Tự động T-2 giờ',
    // sources
    sources: 'Nguồn tín hiệu', addSource: 'Thêm nguồn', editSource: 'Sửa nguồn', source: 'Nguồn',
    state: 'Trạng thái', video: 'Hình', audio: 'Tiếng', bitrate: 'Tốc độ', lost: 'Mất gói',
    reconnects: 'Kết nối lại', lastFrame: 'Khung cuối', actions: 'Thao tác',
    preview: 'Xem', stopPreview: 'Tắt xem', probe: 'Đo thử', edit: 'Sửa', del: 'Xoá',
    noSources: 'Chưa có nguồn nào.', ago: 'trước', never: 'chưa có',
    name: 'Tên', url: 'Địa chỉ (URL)', transport: 'Giao thức', id: 'Mã',
    urlKeep: 'Để nguyên để giữ mật khẩu đã lưu', save: 'Lưu', cancel: 'Huỷ', close: 'Đóng',
    confirmDeleteSource: 'Xoá nguồn {id}? Không thể hoàn tác.',
    probeTitle: 'Kết quả đo thử nguồn {id}', probing: 'Đang đọc tín hiệu trong {s} giây…',
    connected: 'Kết nối', yes: 'Có', no: 'Không', browserPlayable: 'Trình duyệt phát trực tiếp được',
    gop: 'Khoảng khung khoá', bframes: 'Khung B', keyframes: 'Khung khoá', frames: 'Số khung',
    verdict: 'Kết luận', checks: 'Các mục kiểm tra', previewOf: 'Xem trước: {id}',
    // sessions
    sessions: 'Các phiên', newSession: 'Tạo phiên', title: 'Tiêu đề', caseRef: 'Số hồ sơ',
    scheduledAt: 'Thời gian dự kiến', layout: 'Bố cục', output: 'Đầu ra', points: 'Điểm cầu',
    record: 'Ghi hình khi phát trực tiếp', role: 'Vai trò', label: 'Nhãn hiển thị',
    addPoint: 'Thêm điểm cầu', removePoint: 'Bỏ', width: 'Rộng', height: 'Cao', fps: 'Khung/giây',
    bitrateKbps: 'Tốc độ (kbps)', custom: 'Tuỳ chỉnh', create: 'Tạo', open: 'Mở',
    startRehearsal: 'Bắt đầu diễn tập', startLive: 'Phát trực tiếp', stop: 'Dừng',
    noSessions: 'Chưa có phiên nào.', noSession: 'Chọn một phiên.', session: 'Phiên',
    confirmLive: 'Bắt đầu phát TRỰC TIẾP phiên “{title}”? Phiên sẽ được ghi hình và lưu trữ.',
    confirmStop: 'Dừng phiên “{title}”?', confirmStopLive: 'Dừng phiên TRỰC TIẾP “{title}”? Bản ghi sẽ được niêm phong và phiên kết thúc.',
    confirmDeleteSession: 'Xoá phiên “{title}”?', confirm: 'Xác nhận', started: 'Đã bắt đầu {title}',
    stopped: 'Đã dừng {title}', saved: 'Đã lưu', deleted: 'Đã xoá',
    // running session
    composite: 'Hình tổng hợp', notRunning: 'Phiên không chạy. Hãy bắt đầu diễn tập hoặc phát trực tiếp.',
    viewers: 'Người xem', renditions: 'Theo chất lượng', rendition_main: 'chính', rendition_low: 'thấp', mixerFps: 'Khung/giây bộ trộn', dropped: 'Khung bỏ', latency: 'Độ trễ trộn',
    rec: 'GHI', recOff: 'Không ghi', recRehearsal: 'Diễn tập: không ghi hình', elapsed: 'Thời gian',
    bytes: 'Dung lượng', segments: 'Đoạn', disk: 'Ổ đĩa', diskOk: 'Đang ghi bình thường',
    diskStopped: 'Dừng ghi vì thiếu dung lượng', diskFree: 'Trống (lần kiểm tra cuối)',
    focus: 'Điểm chính', setFocus: 'Chọn làm điểm chính', mute: 'Tắt tiếng', unmute: 'Bật tiếng',
    muted: 'Đã tắt tiếng', gain: 'Âm lượng', unmuteVideo: 'Nghe tiếng', muteVideo: 'Tắt nghe',
    soundLevel: 'Mức tiếng của {label}', noAudio: 'Không có tiếng', peak: 'Đỉnh',
    silentFor: 'KHÔNG CÓ TIẾNG đã {s} giây: kiểm tra micrô của điểm cầu',
    p_connecting: 'Đang kết nối hình…', p_live: 'Đang phát', p_reconnecting: 'Mất kết nối, đang thử lại…',
    p_waiting: 'Phiên chưa chạy, đang chờ…', p_busy: 'Máy chủ bận, sẽ thử lại…', p_unauthorized: 'Không được phép xem',
    p_notfound: 'Không tìm thấy', p_error: 'Lỗi phát hình', p_unplayable: 'Không phát được', p_idle: '',
    returnFeed: 'Tín hiệu trả về',
    removeFromSession: 'Bỏ', removeNamed: 'Bỏ {label} khỏi phiên', lastPoint: 'Phiên phải còn ít nhất một điểm cầu',
    confirmRemovePoint: 'Bỏ điểm cầu “{label}” khỏi phiên “{title}”?',
    confirmRemovePointRunning: 'Bỏ điểm cầu “{label}” khỏi phiên đang chạy “{title}”? Hình và tiếng của điểm này rời khỏi hình tổng hợp và tín hiệu trả về của điểm này dừng.',
    pointRemoved: 'Đã bỏ điểm cầu {label}', pointAdded: 'Đã thêm điểm cầu {label}',
    pointId: 'Mã điểm cầu', labelOptional: 'Nhãn (không bắt buộc)', pointIdHint: 'Mã: chữ thường a-z, số 0-9 và dấu -',
    addToSession: 'Thêm vào phiên', noFreeSource: 'Mọi nguồn đã có trong phiên. Hãy thêm nguồn mới ở thẻ Nguồn.',
    // alerts
    alertSilent: '{session}: điểm cầu “{label}” có hình nhưng KHÔNG CÓ TIẾNG (micrô tắt?)',
    alertPoint: '{session}: điểm cầu “{label}” {state}{why}', alertRecStopped: '{session}: ĐÃ DỪNG GHI HÌNH{why}',
    alertDisk: '{session}: dừng ghi vì ổ đĩa đầy{why}', alertSession: '{session}: {why}',
    // checks
    runCheck: 'Kiểm tra ngay', checking: 'Đang kiểm tra từng điểm cầu…', history: 'Lịch sử kiểm tra',
    report: 'Báo cáo', kind: 'Loại', at: 'Lúc', reasons: 'Lý do', server: 'Máy chủ', point: 'Điểm cầu',
    noChecks: 'Chưa có lần kiểm tra nào.', autoChecks: 'Kiểm tra tự động (Quyết định 354): T-24 giờ lúc {a}, T-2 giờ lúc {b}.',
    noSchedule: 'Phiên chưa có thời gian dự kiến nên không có kiểm tra tự động.',
    load: 'Tải CPU', cores: 'nhân', webrtc: 'WebRTC', hardware: 'phần cứng', software: 'phần mềm', needed: 'cần',
    // invites
    invites: 'Lời mời tham dự', inviteName: 'Mời ai (tên điểm cầu hoặc người)', createInvite: 'Tạo lời mời',
    inviteLink: 'Liên kết tham dự (chỉ hiện một lần)', copy: 'Sao chép', copied: 'Đã sao chép', openLink: 'Mở',
    revoke: 'Thu hồi', revoked: 'Đã thu hồi', active: 'Còn hiệu lực', inactive: 'Hết hiệu lực',
    created: 'Tạo lúc', noInvites: 'Chưa có lời mời nào.', confirmRevoke: 'Thu hồi lời mời của {name}?',
    invitePoint: 'Điểm cầu (gửi hình và tiếng)', watchOnly: '— chỉ xem —', point: 'Điểm cầu',
    // recordings
    recordings: 'Bản ghi', run: 'Lượt ghi', sealed: 'Đã niêm phong', signed: 'Có chữ ký', live: 'Đang ghi',
    verify: 'Kiểm tra toàn vẹn', vs_ok: 'Nguyên vẹn', vs_problems: 'Có vấn đề', vs_live: 'Đang ghi (chưa kiểm tra)',
    vs_unchecked: 'Chưa kiểm tra', gaps: 'Mất tín hiệu', interruptions: 'Gián đoạn', stream: 'Luồng',
    file: 'Tệp', start: 'Bắt đầu', duration: 'Thời lượng', size: 'Cỡ', play: 'Phát', download: 'Tải về',
    manifest: 'Sổ kê (manifest)', noRuns: 'Phiên chưa có bản ghi.', loading: 'Đang tải {name}… {pct}',
    playing: 'Đang phát {name}',
    // audit
    audit: 'Nhật ký thao tác', who: 'Ai', what: 'Thao tác', target: 'Đối tượng', result: 'Kết quả',
    more: 'Xem thêm', refresh: 'Làm mới', noAudit: 'Chưa có thao tác nào.',
    // errors
    e_network: 'Không kết nối được máy chủ', e_400: 'Dữ liệu không hợp lệ', e_401: 'Mã truy cập sai hoặc đã hết hạn',
    e_403: 'Không đủ quyền cho thao tác này', e_404: 'Không tìm thấy', e_409: 'Không làm được ở trạng thái hiện tại',
    e_413: 'Dữ liệu gửi lên quá lớn', e_5xx: 'Lỗi máy chủ', e_other: 'Lỗi', field: 'trường',
  },
  en: {
    appTitle: 'Điểm cầu — Operator console',
    signInTitle: 'Sign in', tokenLabel: 'Operator token',
    tokenHint: 'The token is kept only in this browser tab and is gone when the tab closes.',
    signIn: 'Sign in', signOut: 'Sign out', lang: 'Tiếng Việt',
    tabSources: 'Sources', tabSessions: 'Sessions', tabRun: 'Control', tabChecks: 'Checks',
    tabInvites: 'Invites', tabRecordings: 'Recordings', tabAudit: 'Audit',
    serverOk: 'Server: connected', serverLost: 'Server connection lost', encoder: 'Encoder',
    st_online: 'Online', st_offline: 'Offline', st_connecting: 'Connecting', st_error: 'Error',
    ss_idle: 'Idle', ss_rehearsal: 'Rehearsal', ss_live: 'Live', ss_ended: 'Ended',
    v_pass: 'Pass', v_warn: 'Warning', v_fail: 'Fail',
    l_grid: 'Grid', l_speaker: 'Speaker', l_pip: 'Picture in picture', l_single: 'Single',
    r_province: 'Province', r_local: 'Local', r_central: 'Central',
    k_manual: 'Manual', 'k_t-24h': 'Automatic T-24 h', 'k_t-2h': 'Automatic T-2 h',
    sources: 'Sources', addSource: 'Add source', editSource: 'Edit source', source: 'Source',
    state: 'State', video: 'Video', audio: 'Audio', bitrate: 'Bitrate', lost: 'Packets lost',
    reconnects: 'Reconnects', lastFrame: 'Last frame', actions: 'Actions',
    preview: 'Preview', stopPreview: 'Stop preview', probe: 'Probe', edit: 'Edit', del: 'Delete',
    noSources: 'No sources yet.', ago: 'ago', never: 'none yet',
    name: 'Name', url: 'URL', transport: 'Transport', id: 'ID',
    urlKeep: 'Leave as is to keep the stored password', save: 'Save', cancel: 'Cancel', close: 'Close',
    confirmDeleteSource: 'Delete source {id}? This cannot be undone.',
    probeTitle: 'Probe report of source {id}', probing: 'Reading the feed for {s} seconds…',
    connected: 'Connected', yes: 'Yes', no: 'No', browserPlayable: 'Browsers play it as is',
    gop: 'Keyframe interval', bframes: 'B-frames', keyframes: 'Keyframes', frames: 'Frames',
    verdict: 'Verdict', checks: 'Checks', previewOf: 'Preview: {id}',
    sessions: 'Sessions', newSession: 'New session', title: 'Title', caseRef: 'Case reference',
    scheduledAt: 'Scheduled at', layout: 'Layout', output: 'Output', points: 'Points',
    record: 'Record when live', role: 'Role', label: 'Label',
    addPoint: 'Add point', removePoint: 'Remove', width: 'Width', height: 'Height', fps: 'Frames/s',
    bitrateKbps: 'Bitrate (kbps)', custom: 'Custom', create: 'Create', open: 'Open',
    startRehearsal: 'Start rehearsal', startLive: 'Go live', stop: 'Stop',
    noSessions: 'No sessions yet.', noSession: 'Choose a session.', session: 'Session',
    confirmLive: 'Start session “{title}” LIVE? It will be recorded and archived.',
    confirmStop: 'Stop session “{title}”?', confirmStopLive: 'Stop the LIVE session “{title}”? Its record is sealed and the session ends.',
    confirmDeleteSession: 'Delete session “{title}”?', confirm: 'Confirm', started: 'Started {title}',
    stopped: 'Stopped {title}', saved: 'Saved', deleted: 'Deleted',
    composite: 'Composite', notRunning: 'The session is not running. Start a rehearsal or go live.',
    viewers: 'Viewers', renditions: 'By rendition', rendition_main: 'main', rendition_low: 'low', mixerFps: 'Mixer frames/s', dropped: 'Dropped', latency: 'Mix latency',
    rec: 'REC', recOff: 'Not recording', recRehearsal: 'Rehearsal: nothing is recorded', elapsed: 'Elapsed',
    bytes: 'Size', segments: 'Segments', disk: 'Disk', diskOk: 'Recording normally',
    diskStopped: 'Stopped: disk full', diskFree: 'Free (last check)',
    focus: 'Focus', setFocus: 'Make focus', mute: 'Mute', unmute: 'Unmute',
    muted: 'Muted', gain: 'Gain', unmuteVideo: 'Listen', muteVideo: 'Silence',
    soundLevel: 'Sound level of {label}', noAudio: 'No sound', peak: 'Peak',
    silentFor: 'NO SOUND for {s} s: check the point\'s microphone',
    p_connecting: 'Connecting…', p_live: 'Playing', p_reconnecting: 'Connection lost, retrying…',
    p_waiting: 'The session is not running, waiting…', p_busy: 'Server busy, retrying…', p_unauthorized: 'Not allowed to watch',
    p_notfound: 'Not found', p_error: 'Playback error', p_unplayable: 'Cannot be played', p_idle: '',
    returnFeed: 'Return feed',
    removeFromSession: 'Remove', removeNamed: 'Remove {label} from the session', lastPoint: 'A session keeps at least one point',
    confirmRemovePoint: 'Remove point “{label}” from session “{title}”?',
    confirmRemovePointRunning: 'Remove point “{label}” from the running session “{title}”? Its picture and sound leave the composite and its return feed ends.',
    pointRemoved: 'Removed point {label}', pointAdded: 'Added point {label}',
    pointId: 'Point ID', labelOptional: 'Label (optional)', pointIdHint: 'ID: lower-case a-z, digits 0-9 and -',
    addToSession: 'Add to session', noFreeSource: 'Every source is in the session already. Add one in the Sources tab.',
    alertSilent: '{session}: point “{label}” has picture but NO SOUND (microphone off?)',
    alertPoint: '{session}: point “{label}” {state}{why}', alertRecStopped: '{session}: RECORDING STOPPED{why}',
    alertDisk: '{session}: recording stopped, disk full{why}', alertSession: '{session}: {why}',
    runCheck: 'Run check now', checking: 'Checking every point…', history: 'Check history',
    report: 'Report', kind: 'Kind', at: 'At', reasons: 'Reasons', server: 'Server', point: 'Point',
    noChecks: 'No checks yet.', autoChecks: 'Automatic checks (Decision 354): T-24 h at {a}, T-2 h at {b}.',
    noSchedule: 'The session has no scheduled time, so no automatic checks run.',
    load: 'CPU load', cores: 'cores', webrtc: 'WebRTC', hardware: 'hardware', software: 'software', needed: 'needed',
    invites: 'Invites', inviteName: 'Who it is for (point or person)', createInvite: 'Create invite',
    inviteLink: 'Join link (shown once)', copy: 'Copy', copied: 'Copied', openLink: 'Open',
    revoke: 'Revoke', revoked: 'Revoked', active: 'Active', inactive: 'Not valid',
    created: 'Created', noInvites: 'No invites yet.', confirmRevoke: 'Revoke the invite of {name}?',
    invitePoint: 'Point (sends picture and sound)', watchOnly: '— watch only —', point: 'Point',
    recordings: 'Recordings', run: 'Run', sealed: 'Sealed', signed: 'Signed', live: 'Recording',
    verify: 'Integrity', vs_ok: 'Intact', vs_problems: 'Problems', vs_live: 'Recording (not checked)',
    vs_unchecked: 'Not checked', gaps: 'Signal gaps', interruptions: 'Interruptions', stream: 'Stream',
    file: 'File', start: 'Start', duration: 'Duration', size: 'Size', play: 'Play', download: 'Download',
    manifest: 'Manifest', noRuns: 'No recordings for this session.', loading: 'Loading {name}… {pct}',
    playing: 'Playing {name}',
    audit: 'Audit log', who: 'Who', what: 'Action', target: 'Target', result: 'Result',
    more: 'More', refresh: 'Refresh', noAudit: 'No actions yet.',
    e_network: 'Cannot reach the server', e_400: 'Invalid input', e_401: 'Wrong or expired token',
    e_403: 'Your role may not do this', e_404: 'Not found', e_409: 'Not possible in the current state',
    e_413: 'Too much data sent', e_5xx: 'Server error', e_other: 'Error', field: 'field',
  },
};

let lang = localStorage.getItem('diemcau.lang') || 'vi';
if (!TEXT[lang]) lang = 'vi';

export function getLang() { return lang; }

export function setLang(l) {
  lang = TEXT[l] ? l : 'vi';
  localStorage.setItem('diemcau.lang', lang);
}

// t looks up a word and fills {name} placeholders from vars.
export function t(key, vars) {
  let s = TEXT[lang][key];
  if (s === undefined) s = TEXT.vi[key] !== undefined ? TEXT.vi[key] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
  return s;
}

// applyStatic translates every element that names its word.
export function applyStatic(root) {
  document.documentElement.lang = lang;
  document.title = t('appTitle');
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
