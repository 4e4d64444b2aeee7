package web

import (
	"fmt"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// defaultLang is the language of a person who has not chosen one.
const defaultLang = "zh"

// timeLayout is how the pages write a time, in China Standard Time.
const timeLayout = "2006-01-02 15:04"

// shanghai is the zone times are shown in: Asia/Shanghai, or a fixed UTC+8
// where the system has no time zone database (China has kept UTC+8 without
// daylight saving since 1991).
var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// lang is one language of the pages: its catalogue and the formatting the
// templates call.
type lang struct {
	Code  string // the ?lang= value: "zh" or "en"
	Tag   string // the <html lang> value
	Other string // the ?lang= value of the other language
	msgs  map[string]string
}

// languages are the languages by code.
var languages = map[string]*lang{
	"zh": {Code: "zh", Tag: "zh-CN", Other: "en", msgs: zhCN},
	"en": {Code: "en", Tag: "en", Other: "zh", msgs: en},
}

// T returns the message key, or an error (which stops the template) if the
// catalogue has no such key.
func (l *lang) T(key string) (string, error) {
	if m, ok := l.msgs[key]; ok {
		return m, nil
	}
	return "", fmt.Errorf("no %s message %q", l.Code, key)
}

// Msg returns the message key, or the key itself if there is none.
func (l *lang) Msg(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	return key
}

// lookup translates a value the service sent (a status, a kind...) under
// prefix, and shows an unknown value as it is.
func (l *lang) lookup(prefix, value string) string {
	if m, ok := l.msgs[prefix+value]; ok {
		return m
	}
	return value
}

// Role names a role.
func (l *lang) Role(r election.Role) string { return l.lookup("role.", string(r)) }

// Status names a status of an enrollment code or a review item.
func (l *lang) Status(s string) string { return l.lookup("status.", s) }

// Kind names the kind of a review item.
func (l *lang) Kind(k string) string { return l.lookup("kind.", k) }

// VillageStatus names a village status of the report.
func (l *lang) VillageStatus(s string) string { return l.lookup("vstatus.", s) }

// Outcome names the outcome of a rule.
func (l *lang) Outcome(o election.Outcome) string { return l.lookup("outcome.", string(o)) }

// Yes writes a boolean.
func (l *lang) Yes(b bool) string {
	if b {
		return l.Msg("bool.yes")
	}
	return l.Msg("bool.no")
}

// Hours writes a duration in whole hours.
func (l *lang) Hours(h int) string { return fmt.Sprintf(l.Msg("ttl.hours"), h) }

// Pct writes a share (0.25) as a percentage (25.0%).
func (l *lang) Pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// Time writes t in China Standard Time, "" for the zero time.
func (l *lang) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(shanghai).Format(timeLayout)
}

// Stamp writes an RFC 3339 time as Time does; anything else as it is.
func (l *lang) Stamp(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return l.Time(t)
}

// Pick returns the text in the page's language: zh for Chinese, en for
// English, falling back to the other when one is empty.
func (l *lang) Pick(zh, en string) string {
	if l.Code == "en" && en != "" || zh == "" {
		return en
	}
	return zh
}

// ErrorSummary names an error code in the page's language.
func (l *lang) ErrorSummary(c syncproto.Code) string {
	if m, ok := l.msgs["err."+string(c)]; ok {
		return m
	}
	return l.Msg("err.unknown")
}

// zhCN is the Simplified Chinese catalogue, the default.
var zhCN = map[string]string{
	"app.name":         "村级换届选举数据同步",
	"nav.label":        "主导航",
	"nav.report":       "统计报告",
	"nav.review":       "审核队列",
	"nav.enroll_codes": "注册码",
	"nav.devices":      "设备",
	"nav.accounts":     "账户",
	"nav.logout":       "退出登录",
	"lang.switch":      "English",
	"lang.other_tag":   "en",

	"login.title":     "登录",
	"login.username":  "用户名",
	"login.password":  "密码",
	"login.submit":    "登录",
	"login.failed":    "登录失败",
	"login.check":     "用户名或密码错误，请检查后重试。",
	"login.missing":   "请输入用户名和密码。",
	"login.slow_down": "此地址登录尝试过于频繁，请稍后再试。",

	"error.title": "无法完成请求",
	"error.home":  "返回首页",
	"error.login": "前往登录",

	"err.request_id":          "请求编号：",
	"err.unknown":             "请求失败",
	"err.bad_request":         "请求有误",
	"err.malformed_record":    "记录格式有误",
	"err.unauthenticated":     "未登录或登录已失效",
	"err.token_expired":       "登录已过期",
	"err.forbidden":           "无权执行此操作",
	"err.out_of_scope":        "超出您的管辖范围",
	"err.not_found":           "未找到",
	"err.bad_signature":       "签名无效",
	"err.chain_broken":        "记录链不连续",
	"err.equivocation":        "同一序号出现不同内容",
	"err.conflict":            "与现有数据冲突",
	"err.enroll_code_invalid": "注册码无效、已使用或已过期",
	"err.device_revoked":      "设备已被吊销",
	"err.nonce_invalid":       "随机数无效",
	"err.too_large":           "提交的内容过大",
	"err.rate_limited":        "尝试次数过多，请稍后再试",
	"err.unsupported":         "不支持的版本",
	"err.internal":            "服务器内部错误，请稍后再试",
	"err.unavailable":         "服务器繁忙，请稍后再试",

	"refuse.no_session":     "请先登录，再提交表单。",
	"refuse.cross_origin":   "拒绝来自其他网站的表单提交。",
	"refuse.csrf":           "表单已过期或来源无法验证，请刷新页面后重试。",
	"refuse.role":           "您的角色不能使用此页面。",
	"refuse.no_page":        "没有这个页面。",
	"refuse.bad_form":       "无法读取提交的表单。",
	"refuse.form_too_large": "提交的表单过大。",
	"refuse.no_scope":       "请为注册码选择范围：村站选村，乡镇督导选乡镇，县级和观察员选全县。",
	"refuse.not_confirmed":  "吊销不可撤销：请先勾选该设备旁的“确认”，再点“吊销”。",

	"ok.resolved":         "已裁定。",
	"ok.code_expired":     "注册码已作废。",
	"ok.device_revoked":   "设备已吊销。",
	"ok.account_created":  "账户已创建。",
	"ok.password_reset":   "密码已重置。",
	"ok.account_disabled": "账户已停用。",
	"ok.account_enabled":  "账户已启用。",

	"role.station":    "村站",
	"role.supervisor": "乡镇督导",
	"role.county":     "县级",
	"role.observer":   "观察员",

	"status.active":       "有效",
	"status.used":         "已使用",
	"status.expired":      "已过期",
	"status.open":         "待处理",
	"status.resolved":     "已解决",
	"status.superseded":   "已被取代",
	"status.acknowledged": "已确认",
	"status.accepted":     "已接受",
	"status.rejected":     "已拒绝",

	"kind.conflict":  "数据冲突",
	"kind.violation": "规则问题",
	"kind.revoked":   "已吊销设备的变更",

	"keep.acknowledge": "确认此问题",
	"keep.accept":      "接受这些变更（写入数据）",
	"keep.reject":      "拒绝这些变更（仅留作证据）",

	"vstatus.NO_ELECTION": "无选举",
	"vstatus.NOT_HELD":    "未举行",
	"vstatus.HELD":        "已举行",
	"vstatus.VOID":        "选举无效",
	"vstatus.CONFLICT":    "有冲突待裁定",
	"vstatus.CERTIFIED":   "已确认",

	"outcome.PASS":           "通过",
	"outcome.FAIL":           "不通过",
	"outcome.REVIEW":         "待核实",
	"outcome.NOT_APPLICABLE": "不适用",

	"bool.yes":  "是",
	"bool.no":   "否",
	"ttl.hours": "%d 小时",

	"scope.county":      "全县",
	"scope.townships":   "乡镇",
	"scope.villages_of": "%s 各村",

	"filter.label":         "筛选",
	"filter.township":      "乡镇",
	"filter.all_townships": "全部乡镇",
	"filter.status":        "状态",
	"filter.all_statuses":  "全部状态",
	"filter.search":        "搜索",
	"filter.search_hint":   "编号、名称、地名或代码",
	"filter.submit":        "筛选",
	"filter.clear":         "清除筛选",
	"filter.count":         "显示 %d / 共 %d",
	"filter.no_match":      "没有符合筛选条件的记录。",

	"report.title":              "统计报告",
	"report.villages":           "村数",
	"report.held_on_time":       "按期举行",
	"report.one_time_success":   "一次性选举成功",
	"report.members_elected":    "当选人数",
	"report.open_conflicts":     "未解决冲突",
	"report.rule_violations":    "规则问题",
	"report.acknowledged":       "已确认",
	"report.key_villages":       "重点村",
	"report.key_village":        "重点村",
	"report.supervision_visits": "督导走访",
	"report.problems":           "问题整改（已整改 / 发现）",
	"report.townships":          "各乡镇",
	"report.township":           "乡镇",
	"report.no_townships":       "暂无乡镇数据。",
	"report.village_table":      "各村明细",
	"report.village":            "村",
	"report.status":             "状态",

	"review.title":          "审核队列",
	"review.filter_open":    "待处理",
	"review.filter_all":     "全部",
	"review.read_only":      "只读：由县级裁定。",
	"review.empty":          "没有需要审核的事项。",
	"review.place":          "地点",
	"review.collection":     "数据类别",
	"review.record":         "记录",
	"review.slot":           "位置",
	"review.created":        "发现时间",
	"review.rule":           "规则",
	"review.outcome":        "结果",
	"review.message":        "说明",
	"review.resolution":     "裁定记录",
	"review.resolved_at":    "裁定时间",
	"review.superseded_by":  "被取代于",
	"review.revoked_device": "已吊销设备",
	"review.revoked_at":     "吊销时间",
	"review.late_changes":   "吊销后的变更序号",
	"review.reason":         "理由",
	"review.reason_hint":    "必填：说明裁定理由，将记入审计记录",
	"review.version":        "版本",
	"review.captured":       "录入时间",
	"review.received":       "接收时间",
	"review.body":           "内容",
	"review.body_hidden":    "超出范围，不显示",
	"review.kept":           "保留",
	"review.keep":           "保留",
	"review.resolve":        "裁定",

	"codes.title":        "注册码",
	"codes.new":          "新建注册码",
	"codes.new_hint":     "注册码只能使用一次，过期作废。新设备用它登记后即获得对应角色和范围。",
	"codes.role":         "角色",
	"codes.scope":        "范围",
	"codes.choose_scope": "请选择",
	"codes.ttl":          "有效期",
	"codes.create":       "生成注册码",
	"codes.id":           "编号",
	"codes.created":      "创建时间",
	"codes.expires":      "过期时间",
	"codes.status":       "状态",
	"codes.used_by":      "使用设备",
	"codes.created_by":   "创建人",
	"codes.list":         "已生成的注册码",
	"codes.expire":       "作废",
	"codes.empty":        "暂无注册码。",
	"codes.issued_title": "新注册码",
	"codes.shown_once":   "此注册码只显示这一次：请现在抄写或扫描，离开本页后无法再次查看。",
	"codes.qr_alt":       "注册二维码",
	"codes.server":       "服务器地址",
	"codes.scan_hint":    "在村站设备上扫描二维码，或手动输入注册码。",
	"codes.back":         "返回注册码列表",

	"devices.title":          "设备",
	"devices.read_only":      "只读：由县级吊销设备。",
	"devices.id":             "设备编号",
	"devices.label":          "名称",
	"devices.role":           "角色",
	"devices.scope":          "范围",
	"devices.enrolled":       "登记时间",
	"devices.head":           "已同步序号",
	"devices.status":         "状态",
	"devices.active":         "有效",
	"devices.revoked":        "已吊销",
	"devices.revoked_after":  "吊销于序号",
	"devices.revoke":         "吊销",
	"devices.revoke_confirm": "确认（不可撤销）",
	"devices.empty":          "暂无设备。",

	"accounts.title":          "账户",
	"accounts.new":            "新建账户",
	"accounts.username":       "用户名",
	"accounts.name":           "姓名",
	"accounts.password":       "密码",
	"accounts.role":           "角色",
	"accounts.scope":          "范围",
	"accounts.create":         "创建账户",
	"accounts.created":        "创建时间",
	"accounts.last_login":     "最近登录",
	"accounts.status":         "状态",
	"accounts.actions":        "操作",
	"accounts.active":         "有效",
	"accounts.disabled":       "已停用",
	"accounts.locked":         "已锁定至",
	"accounts.new_password":   "新密码",
	"accounts.reset_password": "重置密码",
	"accounts.disable":        "停用",
	"accounts.enable":         "启用",
	"accounts.empty":          "暂无账户。",
}

// en is the English catalogue.
var en = map[string]string{
	"app.name":         "Village election sync",
	"nav.label":        "Main navigation",
	"nav.report":       "Report",
	"nav.review":       "Review",
	"nav.enroll_codes": "Enrollment codes",
	"nav.devices":      "Devices",
	"nav.accounts":     "Accounts",
	"nav.logout":       "Sign out",
	"lang.switch":      "中文",
	"lang.other_tag":   "zh-CN",

	"login.title":     "Sign in",
	"login.username":  "Username",
	"login.password":  "Password",
	"login.submit":    "Sign in",
	"login.failed":    "Sign-in failed",
	"login.check":     "Wrong username or password: check them and try again.",
	"login.missing":   "Enter your username and password.",
	"login.slow_down": "Too many sign-in attempts from this address: wait a minute and try again.",

	"error.title": "The request could not be completed",
	"error.home":  "Back to the report",
	"error.login": "Sign in",

	"err.request_id":          "Request id:",
	"err.unknown":             "The request failed",
	"err.bad_request":         "The request is not valid",
	"err.malformed_record":    "The record is malformed",
	"err.unauthenticated":     "Not signed in, or the session has ended",
	"err.token_expired":       "The session has expired",
	"err.forbidden":           "You may not do this",
	"err.out_of_scope":        "Outside your area",
	"err.not_found":           "Not found",
	"err.bad_signature":       "Invalid signature",
	"err.chain_broken":        "The record chain is broken",
	"err.equivocation":        "Two different changes with the same number",
	"err.conflict":            "Conflicts with existing data",
	"err.enroll_code_invalid": "The enrollment code is unknown, used or expired",
	"err.device_revoked":      "The device was revoked",
	"err.nonce_invalid":       "Invalid nonce",
	"err.too_large":           "What was sent is too large",
	"err.rate_limited":        "Too many attempts: try again later",
	"err.unsupported":         "Unsupported version",
	"err.internal":            "Server error: try again later",
	"err.unavailable":         "The server is busy: try again later",

	"refuse.no_session":     "Sign in before submitting forms.",
	"refuse.cross_origin":   "Forms from other sites are refused.",
	"refuse.csrf":           "The form has expired or its origin cannot be verified: reload the page and try again.",
	"refuse.role":           "Your role cannot use this page.",
	"refuse.no_page":        "There is no such page.",
	"refuse.bad_form":       "The form could not be read.",
	"refuse.form_too_large": "The form is too large.",
	"refuse.no_scope":       "Choose the area of the code: a village for a station, a township for a supervisor, the county for county and observer codes.",
	"refuse.not_confirmed":  "Revoking cannot be undone: tick the device's Confirm box, then press Revoke.",

	"ok.resolved":         "Resolved.",
	"ok.code_expired":     "The enrollment code was expired.",
	"ok.device_revoked":   "The device was revoked.",
	"ok.account_created":  "The account was created.",
	"ok.password_reset":   "The password was reset.",
	"ok.account_disabled": "The account was disabled.",
	"ok.account_enabled":  "The account was enabled.",

	"role.station":    "Village station",
	"role.supervisor": "Township supervisor",
	"role.county":     "County",
	"role.observer":   "Observer",

	"status.active":       "Active",
	"status.used":         "Used",
	"status.expired":      "Expired",
	"status.open":         "Open",
	"status.resolved":     "Resolved",
	"status.superseded":   "Superseded",
	"status.acknowledged": "Acknowledged",
	"status.accepted":     "Accepted",
	"status.rejected":     "Rejected",

	"kind.conflict":  "Conflict",
	"kind.violation": "Rule violation",
	"kind.revoked":   "Changes of a revoked device",

	"keep.acknowledge": "Acknowledge the violation",
	"keep.accept":      "Accept the changes into the data",
	"keep.reject":      "Reject the changes (kept as evidence only)",

	"vstatus.NO_ELECTION": "No election",
	"vstatus.NOT_HELD":    "Not held",
	"vstatus.HELD":        "Held",
	"vstatus.VOID":        "Void",
	"vstatus.CONFLICT":    "Conflict to resolve",
	"vstatus.CERTIFIED":   "Certified",

	"outcome.PASS":           "Pass",
	"outcome.FAIL":           "Fail",
	"outcome.REVIEW":         "To check",
	"outcome.NOT_APPLICABLE": "Not applicable",

	"bool.yes":  "Yes",
	"bool.no":   "No",
	"ttl.hours": "%d hours",

	"scope.county":      "County",
	"scope.townships":   "Townships",
	"scope.villages_of": "Villages of %s",

	"filter.label":         "Filter",
	"filter.township":      "Township",
	"filter.all_townships": "All townships",
	"filter.status":        "Status",
	"filter.all_statuses":  "All statuses",
	"filter.search":        "Search",
	"filter.search_hint":   "Id, label, place or code",
	"filter.submit":        "Filter",
	"filter.clear":         "Clear filters",
	"filter.count":         "Showing %d of %d",
	"filter.no_match":      "Nothing matches the filter.",

	"report.title":              "County report",
	"report.villages":           "Villages",
	"report.held_on_time":       "Held on time",
	"report.one_time_success":   "Elected in one round",
	"report.members_elected":    "Members elected",
	"report.open_conflicts":     "Open conflicts",
	"report.rule_violations":    "Rule violations",
	"report.acknowledged":       "acknowledged",
	"report.key_villages":       "Key villages",
	"report.key_village":        "Key village",
	"report.supervision_visits": "Supervision visits",
	"report.problems":           "Problems (rectified / found)",
	"report.townships":          "Townships",
	"report.township":           "Township",
	"report.no_townships":       "No township data yet.",
	"report.village_table":      "Villages in detail",
	"report.village":            "Village",
	"report.status":             "Status",

	"review.title":          "Review queue",
	"review.filter_open":    "Open",
	"review.filter_all":     "All",
	"review.read_only":      "Read only: the county resolves.",
	"review.empty":          "Nothing to review.",
	"review.place":          "Place",
	"review.collection":     "Collection",
	"review.record":         "Record",
	"review.slot":           "Slot",
	"review.created":        "Found",
	"review.rule":           "Rule",
	"review.outcome":        "Outcome",
	"review.message":        "Message",
	"review.resolution":     "Resolution record",
	"review.resolved_at":    "Resolved at",
	"review.superseded_by":  "Superseded by",
	"review.revoked_device": "Revoked device",
	"review.revoked_at":     "Revoked at",
	"review.late_changes":   "Changes after revocation, seq",
	"review.reason":         "Reason",
	"review.reason_hint":    "Required: why, for the audit trail",
	"review.version":        "Version",
	"review.captured":       "Captured",
	"review.received":       "Received",
	"review.body":           "Content",
	"review.body_hidden":    "Outside your area, not shown",
	"review.kept":           "kept",
	"review.keep":           "Keep",
	"review.resolve":        "Resolve",

	"codes.title":        "Enrollment codes",
	"codes.new":          "New enrollment code",
	"codes.new_hint":     "A code works once and expires. The device that enrolls with it gets its role and area.",
	"codes.role":         "Role",
	"codes.scope":        "Area",
	"codes.choose_scope": "Choose…",
	"codes.ttl":          "Valid for",
	"codes.create":       "Create code",
	"codes.id":           "Id",
	"codes.created":      "Created",
	"codes.expires":      "Expires",
	"codes.status":       "Status",
	"codes.used_by":      "Used by",
	"codes.created_by":   "Created by",
	"codes.list":         "Codes issued",
	"codes.expire":       "Expire",
	"codes.empty":        "No enrollment codes yet.",
	"codes.issued_title": "New enrollment code",
	"codes.shown_once":   "This code is shown only once: write it down or scan it now, it cannot be shown again.",
	"codes.qr_alt":       "Enrollment QR code",
	"codes.server":       "Server address",
	"codes.scan_hint":    "Scan the QR code on the station device, or type the code.",
	"codes.back":         "Back to enrollment codes",

	"devices.title":          "Devices",
	"devices.read_only":      "Read only: the county revokes devices.",
	"devices.id":             "Device id",
	"devices.label":          "Label",
	"devices.role":           "Role",
	"devices.scope":          "Area",
	"devices.enrolled":       "Enrolled",
	"devices.head":           "Synced up to",
	"devices.status":         "Status",
	"devices.active":         "Active",
	"devices.revoked":        "Revoked",
	"devices.revoked_after":  "after change",
	"devices.revoke":         "Revoke",
	"devices.revoke_confirm": "Confirm (cannot be undone)",
	"devices.empty":          "No devices yet.",

	"accounts.title":          "Accounts",
	"accounts.new":            "New account",
	"accounts.username":       "Username",
	"accounts.name":           "Name",
	"accounts.password":       "Password",
	"accounts.role":           "Role",
	"accounts.scope":          "Area",
	"accounts.create":         "Create account",
	"accounts.created":        "Created",
	"accounts.last_login":     "Last sign-in",
	"accounts.status":         "Status",
	"accounts.actions":        "Actions",
	"accounts.active":         "Active",
	"accounts.disabled":       "Disabled",
	"accounts.locked":         "Locked until",
	"accounts.new_password":   "New password",
	"accounts.reset_password": "Reset password",
	"accounts.disable":        "Disable",
	"accounts.enable":         "Enable",
	"accounts.empty":          "No accounts yet.",
}
