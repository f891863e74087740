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
    <name>CallWindow</name>
    <message>
        <source>Ready to join.</source>
        <translation>Listo para entrar.</translation>
    </message>
    <message>
        <source>Waiting for the other person to join. Please stay on this screen.</source>
        <translation>Esperando a que la otra persona entre. Quédese en esta pantalla, por favor.</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <source>Connected</source>
        <translation>Conectado</translation>
    </message>
    <message>
        <source>The connection dropped. Reconnecting…</source>
        <translation>Se cortó la conexión. Reconectando…</translation>
    </message>
    <message>
        <source>The call has ended.</source>
        <translation>La llamada ha terminado.</translation>
    </message>
    <message>
        <source>Connection: good</source>
        <translation>Conexión: buena</translation>
    </message>
    <message>
        <source>Connection: fair</source>
        <translation>Conexión: regular</translation>
    </message>
    <message>
        <source>Connection: poor</source>
        <translation>Conexión: mala</translation>
    </message>
    <message>
        <source>Doctor</source>
        <translation>Médico</translation>
    </message>
    <message>
        <source>Patient</source>
        <translation>Paciente</translation>
    </message>
    <message>
        <source>Before you join: check your camera, microphone and speaker</source>
        <translation>Antes de entrar: compruebe la cámara, el micrófono y el altavoz</translation>
    </message>
    <message>
        <source>Camera: you should see yourself.</source>
        <translation>Cámara: debería verse a sí mismo.</translation>
    </message>
    <message>
        <source>No camera: the other person will not see you.</source>
        <translation>No hay cámara: la otra persona no le verá.</translation>
    </message>
    <message>
        <source>Microphone: the bar moves when you speak.</source>
        <translation>Micrófono: la barra se mueve cuando habla.</translation>
    </message>
    <message>
        <source>No microphone: the other person will not hear you. Use the chat.</source>
        <translation>No hay micrófono: la otra persona no le oirá. Use los mensajes.</translation>
    </message>
    <message>
        <source>Test the speaker</source>
        <translation>Probar el altavoz</translation>
    </message>
    <message>
        <source>Plays a short tone: you should hear it.</source>
        <translation>Suena un tono corto: debería oírlo.</translation>
    </message>
    <message>
        <source>Join the call</source>
        <translation>Entrar en la llamada</translation>
    </message>
    <message>
        <source>Enter the call&apos;s waiting room</source>
        <translation>Entrar en la sala de espera de la llamada</translation>
    </message>
    <message>
        <source>Microphone level</source>
        <translation>Nivel del micrófono</translation>
    </message>
    <message>
        <source>Checking the connection to the clinic…</source>
        <translation>Comprobando la conexión con la clínica…</translation>
    </message>
    <message>
        <source>The clinic&apos;s server can be reached.</source>
        <translation>Hay conexión con el servidor de la clínica.</translation>
    </message>
    <message>
        <source>The clinic&apos;s server cannot be reached. Check the network, then try again.</source>
        <translation>No hay conexión con el servidor de la clínica. Revise la red y vuelva a intentarlo.</translation>
    </message>
    <message>
        <source>Notes saved.</source>
        <translation>Notas guardadas.</translation>
    </message>
    <message>
        <source>Consultation notes</source>
        <translation>Notas de la consulta</translation>
    </message>
    <message>
        <source>Save notes</source>
        <translation>Guardar notas</translation>
    </message>
    <message>
        <source>Save the notes to the consultation (Ctrl+S)</source>
        <translation>Guardar las notas en la consulta (Ctrl+S)</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Cargando…</translation>
    </message>
    <message>
        <source>none recorded</source>
        <translation>ninguna registrada</translation>
    </message>
    <message>
        <source>%1, %2 years
Allergies: %3
Earlier consultations: %4</source>
        <translation>%1, %2 años
Alergias: %3
Consultas anteriores: %4</translation>
    </message>
    <message>
        <source>The call has ended. Thank you.</source>
        <translation>La llamada ha terminado. Gracias.</translation>
    </message>
    <message>
        <source>Close this window</source>
        <translation>Cerrar esta ventana</translation>
    </message>
    <message>
        <source>End the call?</source>
        <translation>¿Terminar la llamada?</translation>
    </message>
    <message>
        <source>Do you want to end the call?</source>
        <translation>¿Quiere terminar la llamada?</translation>
    </message>
    <message>
        <source>End the call</source>
        <translation>Terminar la llamada</translation>
    </message>
    <message>
        <source>Stay in the call</source>
        <translation>Seguir en la llamada</translation>
    </message>
    <message>
        <source>You</source>
        <translation>Usted</translation>
    </message>
    <message>
        <source>The other person is typing…</source>
        <translation>La otra persona está escribiendo…</translation>
    </message>
    <message>
        <source>ClinicDesk — video consultation</source>
        <translation>ClinicDesk — videoconsulta</translation>
    </message>
    <message>
        <source>How long the call has lasted</source>
        <translation>Cuánto dura ya la llamada</translation>
    </message>
    <message>
        <source>Call time</source>
        <translation>Duración de la llamada</translation>
    </message>
    <message>
        <source>Unmute</source>
        <translation>Activar micrófono</translation>
    </message>
    <message>
        <source>Mute</source>
        <translation>Silenciar</translation>
    </message>
    <message>
        <source>Turn your microphone off or on (Space)</source>
        <translation>Apagar o encender su micrófono (Espacio)</translation>
    </message>
    <message>
        <source>Camera on</source>
        <translation>Encender cámara</translation>
    </message>
    <message>
        <source>Camera off</source>
        <translation>Apagar cámara</translation>
    </message>
    <message>
        <source>Turn your camera off or on (V)</source>
        <translation>Apagar o encender su cámara (V)</translation>
    </message>
    <message>
        <source>Chat</source>
        <translation>Mensajes</translation>
    </message>
    <message>
        <source>Show or hide the chat (C)</source>
        <translation>Mostrar u ocultar los mensajes (C)</translation>
    </message>
    <message>
        <source>Stop sharing</source>
        <translation>Dejar de compartir</translation>
    </message>
    <message>
        <source>Share screen</source>
        <translation>Compartir pantalla</translation>
    </message>
    <message>
        <source>Show your screen instead of your camera (S)</source>
        <translation>Mostrar su pantalla en lugar de su cámara (S)</translation>
    </message>
    <message>
        <source>Withdraw consent</source>
        <translation>Retirar permiso</translation>
    </message>
    <message>
        <source>Allow recording</source>
        <translation>Permitir grabar</translation>
    </message>
    <message>
        <source>The call is recorded only when both of you allow it</source>
        <translation>La llamada solo se graba si los dos lo permiten</translation>
    </message>
    <message>
        <source>End call</source>
        <translation>Colgar</translation>
    </message>
    <message>
        <source>End the call (Esc); you will be asked first</source>
        <translation>Terminar la llamada (Esc); antes se le preguntará</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <source>Send the message (Enter)</source>
        <translation>Enviar el mensaje (Intro)</translation>
    </message>
    <message>
        <source>Chat messages</source>
        <translation>Mensajes de la llamada</translation>
    </message>
    <message>
        <source>Write a message</source>
        <translation>Escriba un mensaje</translation>
    </message>
    <message>
        <source>The other person&apos;s video</source>
        <translation>El vídeo de la otra persona</translation>
    </message>
    <message>
        <source>Your camera</source>
        <translation>Su cámara</translation>
    </message>
    <message>
        <source>Recording</source>
        <translation>Grabando</translation>
    </message>
    <message>
        <source>Waiting for both to allow recording</source>
        <translation>Esperando a que los dos permitan grabar</translation>
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
