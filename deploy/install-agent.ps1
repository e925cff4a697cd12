<#
.SYNOPSIS
Install the Moorage agent on Windows (this machine, or several over PowerShell
remoting) as a scheduled task that runs as SYSTEM at start-up and restarts on failure.

.DESCRIPTION
The one-time install link of the enrolment page serves this script with the hub URL
and an enrolment token filled in (GET /api/v1/install/<link>?shell=powershell). Run it
in an elevated PowerShell:

    & ([scriptblock]::Create((irm '<link>?shell=powershell')))

Several machines at once (the link's "machines" count must be at least their number,
since each enrols with the same token; the hosts need WinRM, as for Invoke-Command):

    & ([scriptblock]::Create((irm '<link>?shell=powershell'))) -Targets host1,host2 -Source .\moorage-agent.exe

The agent is the one-file moorage-agent.exe built with deploy/moorage-agent.spec on a
Windows machine (-Source), or, without -Source, the hub's single-file agent run by a
Python 3.11+ venv (py or python must be installed). Its config is
%ProgramData%\Moorage\agent.toml, readable by Administrators and SYSTEM only.

.PARAMETER Targets
Other machines to install on (PSRemoting). Empty: this machine.

.PARAMETER Source
Path of moorage-agent.exe. Empty: Python and the hub's agent.py.

.PARAMETER AllowActions
Let the agent run the allow-listed actions operators enable for it.
#>
[CmdletBinding()]
param(
    [string[]]$Targets = @(),
    [string]$Source = '',
    [string]$Server = $env:MOORAGE_SERVER,
    [string]$Token = $env:MOORAGE_TOKEN,
    [double]$Interval = 10,
    [switch]$AllowActions
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
# (the install link puts the hub's URL and an enrolment token here)

if (-not $Server) { throw 'set -Server (or MOORAGE_SERVER) to the hub URL' }
if (-not $Token) { throw 'set -Token (or MOORAGE_TOKEN) to an enrolment token' }

function Install-MoorageAgent {
    param([string]$Server, [string]$Token, [string]$Exe, [double]$Interval, [bool]$AllowActions)
    Set-StrictMode -Version 3
    $ErrorActionPreference = 'Stop'
    # A native program's stderr (pip's notices) must not stop the script, as it would
    # under 'Stop' in a remote session; its exit code decides.
    function Invoke-Native([string]$Program, [string[]]$Arguments) {
        $ErrorActionPreference = 'Continue'
        & $Program @Arguments 2>&1 | ForEach-Object { "$_" }
        if ($LASTEXITCODE -ne 0) { throw "$(Split-Path -Leaf $Program) failed ($LASTEXITCODE) on $env:COMPUTERNAME" }
    }
    $principal = New-Object Security.Principal.WindowsPrincipal(
        [Security.Principal.WindowsIdentity]::GetCurrent())
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw "run as Administrator on $env:COMPUTERNAME"
    }
    $prefix = Join-Path $env:ProgramFiles 'Moorage'
    $data = Join-Path $env:ProgramData 'Moorage'
    $config = Join-Path $data 'agent.toml'
    New-Item -ItemType Directory -Force -Path $prefix, $data | Out-Null
    # Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18) only, by SID: names are translated.
    Invoke-Native 'icacls.exe' @($data, '/inheritance:r', '/grant:r', '*S-1-5-32-544:(OI)(CI)(F)', '*S-1-5-18:(OI)(CI)(F)') | Out-Null

    if ($Exe) {
        $program = Join-Path $prefix 'moorage-agent.exe'
        Copy-Item -Force -Path $Exe -Destination $program
        $first = @()
    } else {
        $python = (Get-Command py.exe, python.exe -ErrorAction SilentlyContinue | Select-Object -First 1)
        if (-not $python) { throw 'no moorage-agent.exe (-Source) and no Python 3.11+ (py or python)' }
        Invoke-Native $python.Source @('-m', 'venv', (Join-Path $prefix 'venv'))
        $program = Join-Path $prefix 'venv\Scripts\python.exe'
        Invoke-Native $program @('-m', 'pip', 'install', '-q', 'psutil>=5.9', 'httpx>=0.27')
        $script = Join-Path $prefix 'moorage_agent.py'
        # Windows PowerShell 5.1 offers TLS 1.0 only unless told.
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        Invoke-RestMethod -Uri "$Server/api/v1/agent.py" -OutFile $script
        $first = @($script)
    }
    Invoke-Native $program (@($first) + @('enroll', '--server', $Server, '--token', $Token, '--config', $config))

    $arguments = @($first) + @('run', '--config', $config, '--interval', "$Interval")
    if ($AllowActions) { $arguments += '--allow-actions' }
    $quoted = ($arguments | ForEach-Object { '"' + $_ + '"' }) -join ' '
    $action = New-ScheduledTaskAction -Execute $program -Argument $quoted -WorkingDirectory $prefix
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $account = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -RestartCount 999 `
        -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero)
    Register-ScheduledTask -TaskName 'Moorage agent' -Action $action -Trigger $trigger `
        -Principal $account -Settings $settings -Force | Out-Null
    Start-ScheduledTask -TaskName 'Moorage agent'
    "moorage-agent is running on $env:COMPUTERNAME (scheduled task 'Moorage agent')"
}

$Server = $Server.TrimEnd('/')
if ($Targets.Count -eq 0) {
    $exe = if ($Source) { (Resolve-Path $Source).Path } else { '' }
    Install-MoorageAgent -Server $Server -Token $Token -Exe $exe -Interval $Interval -AllowActions $AllowActions.IsPresent
    return
}
$failed = @()
foreach ($target in $Targets) {
    try {
        $session = New-PSSession -ComputerName $target
        try {
            $exe = ''
            if ($Source) {
                $exe = 'C:\Windows\Temp\moorage-agent.exe'
                Copy-Item -ToSession $session -Force -Path $Source -Destination $exe
            }
            Invoke-Command -Session $session -ScriptBlock ${function:Install-MoorageAgent} `
                -ArgumentList $Server, $Token, $exe, $Interval, $AllowActions.IsPresent
        } finally {
            Remove-PSSession $session
        }
    } catch {
        Write-Warning "${target}: $_"
        $failed += $target
    }
}
if ($failed.Count -gt 0) { throw "not installed on: $($failed -join ', ')" }
