# bash completion for stormlight. The flags come from `stormlight --help` itself (read
# once per shell), so the completion cannot drift from the binary it completes.

_stormlight_flags=""

_stormlight()
{
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case "$prev" in
        -f|--file|--locustfile|--config|--json|--html|--hdr-log)
            # a file: scenario files for -f, any file for the outputs
            if [[ $prev == -f || $prev == --file || $prev == --locustfile ]]; then
                COMPREPLY=($(compgen -f -X '!*.lua' -- "$cur") $(compgen -d -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            compopt -o filenames 2>/dev/null
            return 0
            ;;
        --csv)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            return 0
            ;;
        new)
            if [[ $COMP_CWORD -eq 2 ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
                compopt -o filenames 2>/dev/null
                return 0
            fi
            ;;
    esac
    if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "new" -- "$cur"))
        return 0
    fi
    if [[ -z $_stormlight_flags ]]; then
        # Option lines only ("  -f, --file FILE  text"), not prose that lists flags.
        _stormlight_flags=$("${COMP_WORDS[0]}" --help 2>/dev/null |
            grep -E '^ {2,6}-' | grep -oE '^ +(-[A-Za-z], )?-[-A-Za-z0-9]+( [A-Z][A-Z0-9_,.]*)?( |$)' |
            grep -oE -- '--?[A-Za-z0-9][-A-Za-z0-9]*' | sort -u | tr '\n' ' ')
    fi
    COMPREPLY=($(compgen -W "$_stormlight_flags" -- "$cur"))
    return 0
}
complete -F _stormlight stormlight
