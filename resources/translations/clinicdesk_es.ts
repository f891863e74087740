<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="es_ES">
<context>
    <name>Board</name>
    <message>
        <source>Room</source>
        <translation>Consulta</translation>
    </message>
    <message>
        <source>Next</source>
        <translation>Siguientes</translation>
    </message>
    <message>
        <source>Not connected to the clinic&apos;s server: calls may be missing.</source>
        <translation>Sin conexión con el servidor de la clínica: pueden faltar llamadas.</translation>
    </message>
    <message>
        <source>No news from the clinic&apos;s server since %1: calls shown may be out of date.</source>
        <translation>Sin noticias del servidor de la clínica desde las %1: las llamadas pueden no estar al día.</translation>
    </message>
    <message>
        <source>Now calling</source>
        <translation>Llamando ahora</translation>
    </message>
    <message>
        <source>Please wait: your token will be called here.</source>
        <translation>Espere, por favor: su turno aparecerá aquí.</translation>
    </message>
    <message>
        <source>Waiting-room board</source>
        <translation>Pantalla de la sala de espera</translation>
    </message>
    <message>
        <source>Any room</source>
        <translation>Cualquier consulta</translation>
    </message>
    <message>
        <source>Room %1</source>
        <translation>Consulta %1</translation>
    </message>
    <message>
        <source>Token %1, room %2</source>
        <translation>Turno %1, consulta %2</translation>
    </message>
    <message>
        <source>Token %1, %2</source>
        <translation>Turno %1, %2</translation>
    </message>
</context>
<context>
    <name>Ops</name>
    <message>
        <source>Something went wrong, and it was written to the log. You can carry on working.</source>
        <translation>Algo ha fallado y ha quedado anotado en el registro. Puede seguir trabajando.</translation>
    </message>
</context>
<context>
    <name>Placeholder</name>
    <message>
        <source>Kiosk</source>
        <translation>Quiosco</translation>
    </message>
    <message>
        <source>Desk</source>
        <translation>Consulta médica</translation>
    </message>
    <message>
        <source>The screens of this mode are being built. This device keeps its data and syncs meanwhile.</source>
        <translation>Las pantallas de este modo están en construcción. Mientras tanto, este equipo guarda sus datos y se sincroniza.</translation>
    </message>
</context>
<context>
    <name>SyncBadge</name>
    <message>
        <source>Offline</source>
        <translation>Sin conexión</translation>
    </message>
    <message>
        <source>Syncing…</source>
        <translation>Sincronizando…</translation>
    </message>
    <message>
        <source>Synced</source>
        <translation>Sincronizado</translation>
    </message>
    <message>
        <source>Needs attention</source>
        <translation>Requiere atención</translation>
    </message>
    <message>
        <source>Sync status</source>
        <translation>Estado de la sincronización</translation>
    </message>
</context>
<context>
    <name>Window</name>
    <message>
        <source>ClinicDesk — waiting-room board</source>
        <translation>ClinicDesk — pantalla de la sala de espera</translation>
    </message>
    <message>
        <source>ClinicDesk — kiosk</source>
        <translation>ClinicDesk — quiosco</translation>
    </message>
    <message>
        <source>ClinicDesk — desk</source>
        <translation>ClinicDesk — consulta médica</translation>
    </message>
</context>
</TS>
