# shellcheck shell=sh
# /usr/share/outpost-agent/argv.sh: UCI (/etc/config/outpost-agent) to
# `outpost agent` arguments. Sourced by /etc/init.d/outpost-agent after
# /lib/functions.sh and `config_load outpost-agent`.
#
#   outpost_agent_argv SECTION EMIT
#
# calls EMIT with each option and its value (the init script's EMIT appends
# them to procd's command), so values with spaces stay one argument.
# Returns 1, with a message on stderr, when the section lacks what the
# agent requires. tests/integration/test_openwrt_uci.py runs this with a
# stub of functions.sh and starts the agent with what it produces.

# scalar options: the UCI name is the long option with '_' for '-'; the
# value 'off' stands for the empty value (a listener turned off)
OUTPOST_AGENT_SCALARS="gateway_prefer name key_file listen admin_listen tls_cert tls_key tls_ca
  data_dir api_token link_wait link_wait_max window max_window window_budget max_message
  max_streams connect_timeout reconnect_min reconnect_max keepalive keepalive_timeout
  drain_timeout log_level"
OUTPOST_AGENT_FLAGS="insecure metrics_public log_json"

_oa_emit=
_oa_words=

_oa_word() { _oa_words="${_oa_words:+$_oa_words }$1"; }

_oa_gateway() { $_oa_emit --gateway "$1"; }

_oa_forward() {
	local s="$1" local_ gateway ip remote
	config_get local_ "$s" local
	config_get gateway "$s" gateway
	config_get ip "$s" ip
	config_get remote "$s" remote
	$_oa_emit --forward "local=$local_ gateway=$gateway ip=$ip remote=$remote"
}

_oa_allow() {
	local s="$1" from nets ports
	_oa_words=; config_list_foreach "$s" net _oa_word; nets=$(echo "$_oa_words" | tr ' ' ',')
	_oa_words=; config_list_foreach "$s" ports _oa_word; ports=$(echo "$_oa_words" | tr ' ' ',')
	config_get from "$s" from
	$_oa_emit --allow "net=${nets:-*} ports=${ports:-*}${from:+ from=$from}"
}

_oa_socks() {
	local s="$1" listen gateway user pwfile
	config_get listen "$s" listen
	config_get gateway "$s" gateway
	config_get user "$s" user
	config_get pwfile "$s" password_file
	$_oa_emit --socks "listen=$listen gateway=$gateway${user:+ user=$user}${pwfile:+ password-file=$pwfile}"
}

outpost_agent_argv() {
	local sec="$1" o v key rundir
	_oa_emit="$2"
	config_get v "$sec" name
	[ -n "$v" ] || { echo "outpost-agent: option name is required" >&2; return 1; }
	_oa_words=; config_list_foreach "$sec" gateway _oa_word
	[ -n "$_oa_words" ] || { echo "outpost-agent: list gateway is required" >&2; return 1; }
	config_list_foreach "$sec" gateway _oa_gateway
	for o in $OUTPOST_AGENT_SCALARS; do
		config_get v "$sec" "$o"
		[ -n "$v" ] || continue
		[ "$v" = off ] && v=
		$_oa_emit "--$(echo "$o" | tr _ -)" "$v"
	done
	for o in $OUTPOST_AGENT_FLAGS; do
		config_get_bool v "$sec" "$o" 0
		[ "$v" = 1 ] && $_oa_emit "--$(echo "$o" | tr _ -)"
	done
	# a key set in UCI goes to a root-only file: argv is visible to every user
	config_get key "$sec" key
	if [ -n "$key" ]; then
		rundir="${OUTPOST_AGENT_RUN:-/var/run/outpost-agent}"
		(umask 077 && mkdir -p "$rundir" && printf '%s\n' "$key" > "$rundir/key") || return 1
		$_oa_emit --key-file "$rundir/key"
	fi
	config_foreach _oa_forward forward
	config_foreach _oa_allow allow
	config_foreach _oa_socks socks
	return 0
}
