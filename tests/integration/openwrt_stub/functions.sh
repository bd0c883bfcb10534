# A stand-in for OpenWrt's /lib/functions.sh and procd.sh, just what
# contrib/openwrt/outpost-agent/files/ uses, for test_openwrt_uci.py.
# config_load reads $UCI_CONFIG_DIR/PACKAGE the way OpenWrt's does once
# `uci export` has printed it: as shell calls of config/option/list.
# The procd_* functions record the instance's command line into
# $PROCD_OUT, one argument per line ending in NUL.

_stub_n=0
_stub_cur=

config() {
	local t="$1" name="$2"
	_stub_n=$((_stub_n + 1))
	[ -n "$name" ] || name="cfg$_stub_n"
	_stub_cur="$name"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $name"
	eval "CONFIG_${name}_TYPE=\$t"
}

option() {
	eval "CONFIG_${_stub_cur}_$1=\$2"
}

list() {
	local len
	eval "len=\${CONFIG_${_stub_cur}_$1_LENGTH:-0}"
	len=$((len + 1))
	eval "CONFIG_${_stub_cur}_$1_ITEM$len=\$2"
	eval "CONFIG_${_stub_cur}_$1_LENGTH=$len"
}

config_load() {
	CONFIG_SECTIONS=
	. "$UCI_CONFIG_DIR/$1"
}

config_get() {
	local __v
	eval "__v=\${CONFIG_$2_$3-}"
	[ -n "$__v" ] || __v="$4"
	eval "$1=\$__v"
}

config_get_bool() {
	local __b
	config_get __b "$2" "$3" "$4"
	case "$__b" in
		1|on|true|yes|enabled) __b=1 ;;
		*) __b=0 ;;
	esac
	eval "$1=$__b"
}

config_foreach() {
	local fn="$1" type="$2" s t
	for s in $CONFIG_SECTIONS; do
		eval "t=\$CONFIG_${s}_TYPE"
		[ "$t" = "$type" ] && "$fn" "$s"
	done
	return 0
}

config_list_foreach() {
	local s="$1" o="$2" fn="$3" len i v
	eval "len=\${CONFIG_${s}_${o}_LENGTH:-0}"
	i=1
	while [ "$i" -le "$len" ]; do
		eval "v=\$CONFIG_${s}_${o}_ITEM$i"
		"$fn" "$v"
		i=$((i + 1))
	done
	return 0
}

procd_open_instance() { : > "$PROCD_OUT"; }
procd_set_param() {
	local k="$1"
	shift
	[ "$k" = command ] || return 0
	: > "$PROCD_OUT"
	printf '%s\0' "$@" >> "$PROCD_OUT"
}
procd_append_param() {
	local k="$1"
	shift
	[ "$k" = command ] && printf '%s\0' "$@" >> "$PROCD_OUT"
	return 0
}
procd_close_instance() { :; }
procd_add_reload_trigger() { :; }
