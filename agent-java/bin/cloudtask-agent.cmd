@echo off
rem Starts a CloudTask agent on Windows with the JVM settings its footprint is measured with
rem (docs/agent.md). CLOUDTASK_AGENT_JAR names the jar; CLOUDTASK_AGENT_JAVA_OPTS replaces the
rem default JVM options. The agent's own settings: CLOUDTASK_AGENT_* variables or --config FILE.
setlocal
if "%CLOUDTASK_AGENT_JAR%"=="" set "CLOUDTASK_AGENT_JAR=%~dp0..\target\cloudtask-agent.jar"
if "%CLOUDTASK_AGENT_JAVA_OPTS%"=="" set "CLOUDTASK_AGENT_JAVA_OPTS=-XX:+UseSerialGC -Xms8m -Xmx128m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -Xss512k -XX:ReservedCodeCacheSize=32m -XX:MaxMetaspaceSize=96m -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError"
set "JAVA=java"
if not "%JAVA_HOME%"=="" set "JAVA=%JAVA_HOME%\bin\java"
"%JAVA%" %CLOUDTASK_AGENT_JAVA_OPTS% -jar "%CLOUDTASK_AGENT_JAR%" %*
