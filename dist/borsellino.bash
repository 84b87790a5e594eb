# bash completion for borsellino and borsellinod — installed as
# share/bash-completion/completions/borsellino (and borsellinod).
#
# Nothing here lists a command or an option: they are read from the
# binaries' own --help, lazily (the first time a command path is
# completed) and cached for the shell's life, so completion follows the
# binary it completes. Second-level commands come from the usage lines
# ("borsellino account create ...") or, for the commands that list theirs
# (borsellino, audit, welfare), from those lists ("  category set").
# Values of options naming files or directories complete as paths.

declare -gA _borsellino_help_cache=()

# _borsellino_help BINARY WORDS...: BINARY WORDS --help, cached; empty when
# it fails (an unknown command).
_borsellino_help() {
    local key="$*" text
    if [[ ! -v "_borsellino_help_cache[$key]" ]]; then
        text="$("$@" --help 2>/dev/null)" || text=""
        _borsellino_help_cache[$key]="$text"
    fi
    printf '%s' "${_borsellino_help_cache[$key]}"
}

# _borsellino_commands BINARY WORDS...: the commands that may follow WORDS.
_borsellino_commands() {
    local binary="$1"; shift
    local words=("$@") count=$# k line rest prefix name
    local -A seen=()
    # Ancestors' helps too: "welfare category" has no help of its own,
    # "welfare" lists "  category set".
    for ((k = count; k >= 0; k--)); do
        local ancestor=("${words[@]:0:k}")
        local wanted=("${words[@]:k}")
        local text lists=0
        text="$(_borsellino_help "$binary" "${ancestor[@]}")"
        [[ -z "$text" ]] && continue
        prefix="${binary##*/}${ancestor[*]:+ ${ancestor[*]}}"
        [[ "$text" == "usage: $prefix COMMAND"* ]] && lists=1
        while IFS= read -r line; do
            rest=""
            if [[ "$line" =~ ^(usage:\ |\ +)"$prefix "(.*)$ ]]; then
                rest="${BASH_REMATCH[2]}"           # a usage line
            elif ((lists)) && [[ "$line" =~ ^\ \ ([a-z][a-z|-]*(\ [a-z][a-z|-]*)?)(\ \ |$) ]]; then
                rest="${BASH_REMATCH[1]}"           # "  category set"
            elif ((lists)) && [[ "$line" =~ ^\ \ ([a-z][a-z|-]*)(\ |$) ]]; then
                rest="${BASH_REMATCH[1]}"           # "  bench-welfare measure ..."
            fi
            [[ -z "$rest" ]] && continue
            local tokens=() i=0 ok=1
            read -ra tokens <<< "$rest"
            for want in "${wanted[@]}"; do
                [[ "|${tokens[i]-}|" == *"|$want|"* ]] || { ok=0; break; }
                ((i++))
            done
            ((ok)) || continue
            name="${tokens[i]-}"
            [[ "$name" =~ ^[a-z][a-z|-]*$ ]] || continue
            for name in ${name//|/ }; do seen[$name]=1; done
        done <<< "$text"
        ((${#seen[@]})) && break
    done
    printf '%s\n' "${!seen[@]}"
}

# _borsellino_options BINARY WORDS...: every --option WORDS' help names
# (that of the nearest ancestor with a help).
_borsellino_options() {
    local binary="$1"; shift
    local words=("$@") k text
    for ((k = $#; k >= 0; k--)); do
        text="$(_borsellino_help "$binary" "${words[@]:0:k}")"
        if [[ -n "$text" ]]; then
            grep -oE -- '--[a-z0-9][a-z0-9-]*' <<< "$text" | sort -u
            return
        fi
    done
}

# Options whose value is a path: directories, then files.
_borsellino_path_option() {
    case "$1" in
        --data|--dir|--ca-dir) echo dir ;;
        --out|--config|--pubkey|--tls-cert|--tls-key|--tls-ca|--roles|--signing-key|--file)
            echo file ;;
        --tls-*) echo file ;;
    esac
}

_borsellino_complete_path() {
    local kind="$1" cur="$2"
    compopt -o filenames 2>/dev/null
    if [[ "$kind" == dir ]]; then
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
    else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}

_borsellino() {
    local binary="${COMP_WORDS[0]}" cur="${COMP_WORDS[COMP_CWORD]}"
    local prev="" path=() i kind
    ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"
    COMPREPLY=()
    binary="$(type -P "$binary" 2>/dev/null || echo "$binary")"
    [[ -x "$binary" ]] || return 0
    kind="$(_borsellino_path_option "$prev")"
    if [[ -n "$kind" ]]; then
        _borsellino_complete_path "$kind" "$cur"
        return 0
    fi
    # The command path: the leading words that are commands.
    local commands
    for ((i = 1; i < COMP_CWORD; i++)); do
        commands="$(_borsellino_commands "$binary" "${path[@]}")"
        grep -qxF -- "${COMP_WORDS[i]}" <<< "$commands" || break
        path+=("${COMP_WORDS[i]}")
    done
    if [[ "$cur" == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_borsellino_options "$binary" "${path[@]}")" -- "$cur")
    elif ((i == COMP_CWORD)); then
        mapfile -t COMPREPLY < <(compgen -W "$(_borsellino_commands "$binary" "${path[@]}")" -- "$cur")
    fi
    return 0
}

_borsellinod() {
    local binary="${COMP_WORDS[0]}" cur="${COMP_WORDS[COMP_CWORD]}" prev="" kind
    ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"
    COMPREPLY=()
    binary="$(type -P "$binary" 2>/dev/null || echo "$binary")"
    [[ -x "$binary" ]] || return 0
    kind="$(_borsellino_path_option "$prev")"
    if [[ -n "$kind" ]]; then
        _borsellino_complete_path "$kind" "$cur"
    elif [[ "$cur" == -* || -z "$cur" ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_borsellino_options "$binary")" -- "$cur")
    fi
    return 0
}

complete -F _borsellino borsellino
complete -F _borsellinod borsellinod
