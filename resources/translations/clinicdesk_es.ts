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
    <name>ReasonWords</name>
    <message>
        <source>th</source>
        <comment>ordinal suffix, as in 4th, 11th (Spanish: .º)</comment>
        <translation>.º</translation>
    </message>
    <message>
        <source>st</source>
        <comment>ordinal suffix, as in 1st, 21st (Spanish: .º)</comment>
        <translation>.º</translation>
    </message>
    <message>
        <source>nd</source>
        <comment>ordinal suffix, as in 2nd, 22nd (Spanish: .º)</comment>
        <translation>.º</translation>
    </message>
    <message>
        <source>rd</source>
        <comment>ordinal suffix, as in 3rd, 23rd (Spanish: .º)</comment>
        <translation>.º</translation>
    </message>
    <message>
        <source>%1 %2 %3 %4</source>
        <comment>a day and time: weekday, day, month, hh:mm (Mon 2 Mar 09:00)</comment>
        <translation>%1 %2 %3 a las %4</translation>
    </message>
    <message>
        <source>%1 %2 %3 %4</source>
        <comment>a day: weekday, day, month, year</comment>
        <translation>%1 %5 %3 %4</translation>
    </message>
    <message>
        <source>&apos;%1&apos;</source>
        <comment>a quoted name</comment>
        <translation>«%1»</translation>
    </message>
    <message>
        <source>%1 (+%2)</source>
        <comment>a part of a queue score and its points</comment>
        <translation>%1 (+%2)</translation>
    </message>
    <message>
        <source>routine</source>
        <comment>urgency</comment>
        <translation>normal</translation>
    </message>
    <message>
        <source>soon</source>
        <comment>urgency</comment>
        <translation>preferente</translation>
    </message>
    <message>
        <source>urgent</source>
        <comment>urgency</comment>
        <translation>urgente</translation>
    </message>
    <message>
        <source>emergency</source>
        <comment>urgency</comment>
        <translation>emergencia</translation>
    </message>
    <message>
        <source>requested</source>
        <comment>appointment status</comment>
        <translation>solicitada</translation>
    </message>
    <message>
        <source>confirmed</source>
        <comment>appointment status</comment>
        <translation>confirmada</translation>
    </message>
    <message>
        <source>rejected</source>
        <comment>appointment status</comment>
        <translation>rechazada</translation>
    </message>
    <message>
        <source>checked in</source>
        <comment>appointment status</comment>
        <translation>con llegada registrada</translation>
    </message>
    <message>
        <source>in consultation</source>
        <comment>appointment status</comment>
        <translation>en consulta</translation>
    </message>
    <message>
        <source>completed</source>
        <comment>appointment status</comment>
        <translation>atendida</translation>
    </message>
    <message>
        <source>cancelled</source>
        <comment>appointment status</comment>
        <translation>cancelada</translation>
    </message>
    <message>
        <source>marked as no-show</source>
        <comment>appointment status</comment>
        <translation>no presentada</translation>
    </message>
    <message>
        <source>rescheduled</source>
        <comment>appointment status</comment>
        <translation>reprogramada</translation>
    </message>
    <message>
        <source>in conflict</source>
        <comment>appointment status</comment>
        <translation>en conflicto</translation>
    </message>
    <message>
        <source>waiting</source>
        <comment>queue token status</comment>
        <translation>en espera</translation>
    </message>
    <message>
        <source>called</source>
        <comment>queue token status</comment>
        <translation>llamado</translation>
    </message>
    <message>
        <source>in consultation</source>
        <comment>queue token status</comment>
        <translation>en consulta</translation>
    </message>
    <message>
        <source>completed</source>
        <comment>queue token status</comment>
        <translation>atendido</translation>
    </message>
    <message>
        <source>skipped</source>
        <comment>queue token status</comment>
        <translation>saltado</translation>
    </message>
    <message>
        <source>no show</source>
        <comment>queue token status</comment>
        <translation>no presentado</translation>
    </message>
    <message>
        <source>cancelled</source>
        <comment>queue token status</comment>
        <translation>cancelado</translation>
    </message>
    <message>
        <source>clinic</source>
        <comment>entity</comment>
        <translation>clínica</translation>
    </message>
    <message>
        <source>clinician</source>
        <comment>entity</comment>
        <translation>profesional</translation>
    </message>
    <message>
        <source>availability</source>
        <comment>entity</comment>
        <translation>horario</translation>
    </message>
    <message>
        <source>patient</source>
        <comment>entity</comment>
        <translation>paciente</translation>
    </message>
    <message>
        <source>appointment</source>
        <comment>entity</comment>
        <translation>cita</translation>
    </message>
    <message>
        <source>waitlist entry</source>
        <comment>entity</comment>
        <translation>entrada de la lista de espera</translation>
    </message>
    <message>
        <source>queue token</source>
        <comment>entity</comment>
        <translation>turno</translation>
    </message>
    <message>
        <source>consultation</source>
        <comment>entity</comment>
        <translation>consulta</translation>
    </message>
    <message>
        <source>chat message</source>
        <comment>entity</comment>
        <translation>mensaje de chat</translation>
    </message>
    <message>
        <source>prescription</source>
        <comment>entity</comment>
        <translation>receta</translation>
    </message>
    <message>
        <source>reminder</source>
        <comment>entity</comment>
        <translation>recordatorio</translation>
    </message>
    <message>
        <source>sync conflict</source>
        <comment>entity</comment>
        <translation>conflicto de sincronización</translation>
    </message>
    <message>
        <source>No such patient.</source>
        <translation>No existe ese paciente.</translation>
    </message>
    <message>
        <source>No such appointment.</source>
        <translation>No existe esa cita.</translation>
    </message>
    <message>
        <source>No such staff member.</source>
        <translation>No existe ese miembro del personal.</translation>
    </message>
    <message>
        <source>No such queue token.</source>
        <translation>No existe ese turno.</translation>
    </message>
    <message>
        <source>No such consultation.</source>
        <translation>No existe esa consulta.</translation>
    </message>
    <message>
        <source>No such prescription.</source>
        <translation>No existe esa receta.</translation>
    </message>
    <message>
        <source>No such waiting-list entry.</source>
        <translation>No existe esa entrada de la lista de espera.</translation>
    </message>
    <message>
        <source>No such availability rule.</source>
        <translation>No existe ese horario.</translation>
    </message>
    <message>
        <source>No such conflict.</source>
        <translation>No existe ese conflicto.</translation>
    </message>
    <message>
        <source>No such %1.</source>
        <translation>No se encuentra el registro (%1).</translation>
    </message>
    <message>
        <source>name</source>
        <comment>a medicine&apos;s field</comment>
        <translation>el nombre</translation>
    </message>
    <message>
        <source>strength</source>
        <comment>a medicine&apos;s field</comment>
        <translation>la concentración</translation>
    </message>
    <message>
        <source>dose</source>
        <comment>a medicine&apos;s field</comment>
        <translation>la dosis</translation>
    </message>
    <message>
        <source>route</source>
        <comment>a medicine&apos;s field</comment>
        <translation>la vía de administración</translation>
    </message>
    <message>
        <source>frequency</source>
        <comment>a medicine&apos;s field</comment>
        <translation>la frecuencia</translation>
    </message>
    <message>
        <source>duration</source>
        <comment>a medicine&apos;s field</comment>
        <translation>la duración</translation>
    </message>
    <message>
        <source>desk</source>
        <comment>device kind</comment>
        <translation>recepción</translation>
    </message>
    <message>
        <source>kiosk</source>
        <comment>device kind</comment>
        <translation>quiosco</translation>
    </message>
    <message>
        <source>board</source>
        <comment>device kind</comment>
        <translation>pantalla de sala</translation>
    </message>
    <message>
        <source>device-token</source>
        <comment>a secret the keyring keeps</comment>
        <translation>token del equipo</translation>
    </message>
    <message>
        <source>user-session</source>
        <comment>a secret the keyring keeps</comment>
        <translation>sesión del usuario</translation>
    </message>
    <message>
        <source> Next free: %1.</source>
        <comment>after a full slot; note the leading space</comment>
        <translation> Próximo hueco libre: %1.</translation>
    </message>
    <message numerus="yes">
        <source>%1 is %2: %3 = %n points</source>
        <translation>
            <numerusform>%1 va %2: %3 = %n punto</numerusform>
            <numerusform>%1 va %2: %3 = %n puntos</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>waited %n min</source>
        <translation>
            <numerusform>%n minuto de espera</numerusform>
            <numerusform>%n minutos de espera</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>aged %n</source>
        <translation>
            <numerusform>%n año de edad</numerusform>
            <numerusform>%n años de edad</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>child aged %n</source>
        <translation>
            <numerusform>menor de %n año</numerusform>
            <numerusform>menor de %n años</numerusform>
        </translation>
    </message>
    <message>
        <source>pregnant</source>
        <translation>embarazada</translation>
    </message>
    <message>
        <source>%1 is already in the queue as %2.</source>
        <translation>%1 ya está en la cola con el turno %2.</translation>
    </message>
    <message>
        <source>%1 is not being called, so it cannot be called again.</source>
        <translation>El turno %1 no se está llamando, así que no se puede volver a llamar.</translation>
    </message>
    <message>
        <source>A token that is %1 cannot become %2.</source>
        <translation>Un turno en estado «%1» no puede pasar a «%2».</translation>
    </message>
    <message>
        <source>%1 is fully booked at %2.</source>
        <translation>%1 tiene la agenda completa el %2.</translation>
    </message>
    <message>
        <source>%1 has no bookable slot at %2.</source>
        <translation>%1 no tiene ningún hueco disponible el %2.</translation>
    </message>
    <message>
        <source>%1 already has an appointment at %2 (%3).</source>
        <translation>%1 ya tiene una cita el %2 (%3).</translation>
    </message>
    <message>
        <source>Someone else just booked %1 at that time. Please pick another slot.</source>
        <translation>Alguien acaba de reservar con %1 a esa hora. Elija otro hueco, por favor.</translation>
    </message>
    <message>
        <source>Follow-up %1 cannot be booked: nothing free on %2.</source>
        <translation>No se puede reservar la revisión %1: no hay nada libre el %2.</translation>
    </message>
    <message>
        <source>Follow-up %1 moved to %2</source>
        <translation>Revisión %1 trasladada al %2</translation>
    </message>
    <message>
        <source>%1 does not take appointments.</source>
        <translation>%1 no admite citas.</translation>
    </message>
    <message>
        <source>%1 is already waiting for %2.</source>
        <translation>%1 ya está en la lista de espera de %2.</translation>
    </message>
    <message>
        <source>Unknown appointment status: %1</source>
        <translation>Estado de cita desconocido: %1</translation>
    </message>
    <message>
        <source>An appointment that is %1 cannot be %2.</source>
        <translation>Una cita en estado «%1» no puede pasar a «%2».</translation>
    </message>
    <message>
        <source>%1 is not a doctor.</source>
        <translation>%1 no es médico.</translation>
    </message>
    <message>
        <source>These hours overlap %1–%2 on the same day.</source>
        <translation>Este horario se solapa con el de %1–%2 del mismo día.</translation>
    </message>
    <message>
        <source>No doctor has the username &apos;%1&apos;.</source>
        <translation>Ningún médico tiene el nombre de usuario «%1».</translation>
    </message>
    <message>
        <source>Unknown time zone &apos;%1&apos;.</source>
        <translation>Zona horaria desconocida: «%1».</translation>
    </message>
    <message>
        <source>Unknown country code &apos;%1&apos;.</source>
        <translation>Código de país desconocido: «%1».</translation>
    </message>
    <message>
        <source>Unknown staff role &apos;%1&apos;.</source>
        <translation>Función del personal desconocida: «%1».</translation>
    </message>
    <message>
        <source>The username &apos;%1&apos; is taken.</source>
        <translation>El nombre de usuario «%1» ya está en uso.</translation>
    </message>
    <message>
        <source>&apos;%1&apos; cannot be edited here.</source>
        <translation>«%1» no se puede modificar aquí.</translation>
    </message>
    <message>
        <source>Messages are limited to %1 characters.</source>
        <translation>Los mensajes tienen un máximo de %1 caracteres.</translation>
    </message>
    <message>
        <source>A prescription holds at most %1 medicines.</source>
        <translation>Una receta admite como máximo %1 medicamentos.</translation>
    </message>
    <message>
        <source>Medicine %1: the %2 is missing.</source>
        <translation>Medicamento %1: falta %2.</translation>
    </message>
    <message>
        <source>Medicine %1: unknown route &apos;%2&apos;.</source>
        <translation>Medicamento %1: vía de administración desconocida «%2».</translation>
    </message>
    <message>
        <source>%1 %2 not sent: This change is too large to send (%3 KiB).</source>
        <translation>%1 %2 sin enviar: este cambio es demasiado grande para enviarlo (%3 KiB).</translation>
    </message>
    <message>
        <source>%1 %2 not sent: This change cannot be sent: %3.</source>
        <translation>%1 %2 sin enviar: este cambio no se puede enviar: %3.</translation>
    </message>
    <message>
        <source>%1 %2 refused: %3</source>
        <translation>%1 %2 rechazado: %3</translation>
    </message>
    <message>
        <source>no reason given</source>
        <translation>sin motivo indicado</translation>
    </message>
    <message numerus="yes">
        <source>This computer&apos;s clock is about %n minutes behind the server&apos;s. ClinicDesk keeps working, but ask an administrator to correct the clock.</source>
        <translation>
            <numerusform>El reloj de este equipo va %n minuto por detrás del servidor. ClinicDesk sigue funcionando, pero pida a un administrador que corrija la hora.</numerusform>
            <numerusform>El reloj de este equipo va unos %n minutos por detrás del servidor. ClinicDesk sigue funcionando, pero pida a un administrador que corrija la hora.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>This computer&apos;s clock is about %n minutes ahead of the server&apos;s. ClinicDesk keeps working, but ask an administrator to correct the clock.</source>
        <translation>
            <numerusform>El reloj de este equipo va %n minuto por delante del servidor. ClinicDesk sigue funcionando, pero pida a un administrador que corrija la hora.</numerusform>
            <numerusform>El reloj de este equipo va unos %n minutos por delante del servidor. ClinicDesk sigue funcionando, pero pida a un administrador que corrija la hora.</numerusform>
        </translation>
    </message>
    <message>
        <source>The server at %1 did not answer in time.</source>
        <translation>El servidor %1 no respondió a tiempo.</translation>
    </message>
    <message>
        <source>The secure connection to %1 failed: check the server address and its certificate.</source>
        <translation>Falló la conexión segura con %1: compruebe la dirección del servidor y su certificado.</translation>
    </message>
    <message>
        <source>Cannot reach the server at %1.</source>
        <translation>No se puede conectar con el servidor %1.</translation>
    </message>
    <message>
        <source>This data dir (%1) already holds the data of another clinic (%2). A device belongs to one clinic: enrol with a new, empty --data-dir.</source>
        <translation>Este directorio de datos (%1) ya contiene los datos de otra clínica (%2). Un equipo pertenece a una sola clínica: regístrelo con un --data-dir nuevo y vacío.</translation>
    </message>
    <message>
        <source> The code has been used: ask the administrator to revoke device %1 and for a new code.</source>
        <translation> El código ya se ha usado: pida al administrador que revoque el equipo %1 y le dé un código nuevo.</translation>
    </message>
    <message>
        <source>This data dir (%1) was a %2 and holds records a %3 may not keep (%4). Enrol the %3 with a new, empty --data-dir.</source>
        <translation>Este directorio de datos (%1) era de un equipo de tipo «%2» y guarda datos que un equipo de tipo «%3» no puede conservar (%4). Registre el equipo de tipo «%3» con un --data-dir nuevo y vacío.</translation>
    </message>
    <message>
        <source>This device is not enrolled with a server.</source>
        <translation>Este equipo no está registrado en ningún servidor.</translation>
    </message>
    <message>
        <source>Sync failed: %1</source>
        <translation>Falló la sincronización: %1</translation>
    </message>
    <message>
        <source>The server did not answer change %1; it will be sent again.</source>
        <translation>El servidor no respondió al cambio %1; se enviará de nuevo.</translation>
    </message>
    <message>
        <source>The server&apos;s list of changes did not move forward; try again later.</source>
        <translation>La lista de cambios del servidor no avanza; inténtelo de nuevo más tarde.</translation>
    </message>
    <message>
        <source>The server sent a %1 this app cannot read (%2); sync stops here until that is fixed or the app is updated.</source>
        <translation>El servidor envió un registro (%1) que esta aplicación no puede leer (%2); la sincronización se detiene aquí hasta que se corrija o se actualice la aplicación.</translation>
    </message>
    <message>
        <source>The server refused the request (%1).</source>
        <translation>El servidor rechazó la solicitud (%1).</translation>
    </message>
    <message>
        <source>The server had a problem (%1); try again later.</source>
        <translation>El servidor tuvo un problema (%1); inténtelo de nuevo más tarde.</translation>
    </message>
    <message>
        <source>The keyring refused to read the %1: %2</source>
        <translation>El llavero del sistema no permitió leer el dato «%1»: %2</translation>
    </message>
    <message>
        <source>The keyring refused to store the %1: %2</source>
        <translation>El llavero del sistema no permitió guardar el dato «%1»: %2</translation>
    </message>
    <message>
        <source>The keyring refused to forget the %1: %2</source>
        <translation>El llavero del sistema no permitió borrar el dato «%1»: %2</translation>
    </message>
    <message>
        <source>The server address %1 is not a valid URL (%2).</source>
        <translation>La dirección del servidor %1 no es una URL válida (%2).</translation>
    </message>
    <message>
        <source>Cannot open the live channel of %1 (%2).</source>
        <translation>No se puede abrir el canal en directo de %1 (%2).</translation>
    </message>
    <message>
        <source>The server at %1 is not a ClinicDesk sync server (it answered %2): check the address and port.</source>
        <translation>El servidor %1 no es un servidor de sincronización de ClinicDesk (respondió %2): compruebe la dirección y el puerto.</translation>
    </message>
    <message>
        <source>The server sent an unreadable answer: %1</source>
        <translation>El servidor envió una respuesta ilegible: %1</translation>
    </message>
    <message>
        <source>The server sent an unreadable answer.</source>
        <translation>El servidor envió una respuesta ilegible.</translation>
    </message>
    <message>
        <source>The weekday must be 0 (Monday) to 6 (Sunday).</source>
        <translation>El día de la semana debe ir de 0 (lunes) a 6 (domingo).</translation>
    </message>
    <message>
        <source>The daily cap must be at least 1.</source>
        <translation>El límite diario debe ser al menos 1.</translation>
    </message>
    <message>
        <source>&apos;Valid to&apos; is before &apos;valid from&apos;.</source>
        <translation>«Válido hasta» es anterior a «válido desde».</translation>
    </message>
    <message>
        <source>The break must end after it starts.</source>
        <translation>La pausa debe terminar después de empezar.</translation>
    </message>
    <message>
        <source>The leave must end on or after its first day.</source>
        <translation>La ausencia debe terminar el mismo día en que empieza o después.</translation>
    </message>
    <message>
        <source>The end of working hours must be after the start.</source>
        <translation>El fin del horario debe ser posterior al inicio.</translation>
    </message>
    <message>
        <source>Slot length must be between 5 and 240 minutes.</source>
        <translation>La duración de cada hueco debe estar entre 5 y 240 minutos.</translation>
    </message>
    <message>
        <source>Patients per slot must be between 1 and 50.</source>
        <translation>Los pacientes por hueco deben estar entre 1 y 50.</translation>
    </message>
    <message>
        <source>The buffer must be between 0 and 120 minutes.</source>
        <translation>El margen entre citas debe estar entre 0 y 120 minutos.</translation>
    </message>
    <message>
        <source>Choose a time for the appointment.</source>
        <translation>Elija una hora para la cita.</translation>
    </message>
    <message>
        <source>The time must include its time zone.</source>
        <translation>La hora debe incluir su zona horaria.</translation>
    </message>
    <message>
        <source>The kiosk books kiosk and walk-in visits only.</source>
        <translation>Desde el quiosco solo se reservan visitas de quiosco y sin cita.</translation>
    </message>
    <message>
        <source>Keep the reason under 300 characters.</source>
        <translation>El motivo no puede superar los 300 caracteres.</translation>
    </message>
    <message>
        <source>Tell the patient why the request is rejected.</source>
        <translation>Indique al paciente por qué se rechaza la solicitud.</translation>
    </message>
    <message>
        <source>Repeat every 1 to 52 weeks.</source>
        <translation>La repetición debe ser cada 1 a 52 semanas.</translation>
    </message>
    <message>
        <source>Book between 1 and 26 follow-ups at once.</source>
        <translation>Reserve entre 1 y 26 revisiones a la vez.</translation>
    </message>
    <message>
        <source>The last acceptable day is before the first.</source>
        <translation>El último día aceptable es anterior al primero.</translation>
    </message>
    <message>
        <source>There is no open offer for this patient.</source>
        <translation>No hay ninguna oferta abierta para este paciente.</translation>
    </message>
    <message>
        <source>The offer has expired; the patient stays on the waiting list.</source>
        <translation>La oferta ha caducado; el paciente sigue en la lista de espera.</translation>
    </message>
    <message>
        <source>This device is not set up for a clinic yet. Run `clinic init`.</source>
        <translation>Este equipo aún no está configurado para ninguna clínica. Ejecute `clinic init`.</translation>
    </message>
    <message>
        <source>The clinic needs a name.</source>
        <translation>La clínica necesita un nombre.</translation>
    </message>
    <message>
        <source>Minimum notice must be between 0 and 7 days.</source>
        <translation>La antelación mínima debe estar entre 0 y 7 días.</translation>
    </message>
    <message>
        <source>Passwords need at least 8 characters.</source>
        <translation>La contraseña debe tener al menos 8 caracteres.</translation>
    </message>
    <message>
        <source>Enter the staff member&apos;s name.</source>
        <translation>Escriba el nombre del miembro del personal.</translation>
    </message>
    <message>
        <source>Usernames use letters, digits, dots and underscores.</source>
        <translation>El nombre de usuario solo admite letras, números, puntos y guiones bajos.</translation>
    </message>
    <message>
        <source>Mode is in_person or video.</source>
        <translation>La modalidad debe ser presencial o por vídeo.</translation>
    </message>
    <message>
        <source>This consultation is closed; its notes can no longer be changed.</source>
        <translation>Esta consulta está cerrada; sus notas ya no se pueden modificar.</translation>
    </message>
    <message>
        <source>Keep the diagnosis under 300 characters.</source>
        <translation>El diagnóstico no puede superar los 300 caracteres.</translation>
    </message>
    <message>
        <source>This consultation is already closed.</source>
        <translation>Esta consulta ya está cerrada.</translation>
    </message>
    <message>
        <source>The sender is the doctor or the patient.</source>
        <translation>El remitente debe ser el médico o el paciente.</translation>
    </message>
    <message>
        <source>Only the doctor can send as the doctor.</source>
        <translation>Solo el médico puede enviar mensajes como médico.</translation>
    </message>
    <message>
        <source>The message is empty.</source>
        <translation>El mensaje está vacío.</translation>
    </message>
    <message>
        <source>Please enter the patient&apos;s full name.</source>
        <translation>Escriba el nombre completo del paciente.</translation>
    </message>
    <message>
        <source>The name is too long (120 characters at most).</source>
        <translation>El nombre es demasiado largo (120 caracteres como máximo).</translation>
    </message>
    <message>
        <source>The name must contain letters.</source>
        <translation>El nombre debe contener letras.</translation>
    </message>
    <message>
        <source>That phone number could not be read.</source>
        <translation>No se ha podido leer ese número de teléfono.</translation>
    </message>
    <message>
        <source>That phone number is not valid.</source>
        <translation>Ese número de teléfono no es válido.</translation>
    </message>
    <message>
        <source>The date of birth cannot be in the future.</source>
        <translation>La fecha de nacimiento no puede ser futura.</translation>
    </message>
    <message>
        <source>Please check the date of birth.</source>
        <translation>Revise la fecha de nacimiento, por favor.</translation>
    </message>
    <message>
        <source>Enter the date of birth.</source>
        <translation>Escriba la fecha de nacimiento.</translation>
    </message>
    <message>
        <source>Choose female, male, other or unknown.</source>
        <translation>Elija mujer, hombre, otro o desconocido.</translation>
    </message>
    <message>
        <source>That e-mail address is not valid.</source>
        <translation>Esa dirección de correo electrónico no es válida.</translation>
    </message>
    <message>
        <source>This patient may already be registered. Please check the existing record.</source>
        <translation>Puede que este paciente ya esté registrado. Revise la ficha existente, por favor.</translation>
    </message>
    <message>
        <source>Choose two different patients to merge.</source>
        <translation>Elija dos pacientes distintos para fusionar.</translation>
    </message>
    <message>
        <source>That record was already merged.</source>
        <translation>Esa ficha ya se fusionó.</translation>
    </message>
    <message>
        <source>That record was itself merged into another one; merge into the current record.</source>
        <translation>Esa ficha ya se fusionó con otra; fusione con la ficha vigente.</translation>
    </message>
    <message>
        <source>Enter the diagnosis.</source>
        <translation>Escriba el diagnóstico.</translation>
    </message>
    <message>
        <source>The advice is too long (4000 characters at most).</source>
        <translation>Las indicaciones son demasiado largas (4000 caracteres como máximo).</translation>
    </message>
    <message>
        <source>The follow-up date is in the past.</source>
        <translation>La fecha de revisión ya ha pasado.</translation>
    </message>
    <message>
        <source>An issued prescription cannot be edited. Issue a correction instead.</source>
        <translation>Una receta emitida no se puede modificar. Emita una corrección.</translation>
    </message>
    <message>
        <source>This prescription has already been issued.</source>
        <translation>Esta receta ya se ha emitido.</translation>
    </message>
    <message>
        <source>Only the current issued prescription can be corrected.</source>
        <translation>Solo se puede corregir la receta emitida vigente.</translation>
    </message>
    <message>
        <source>Say why the prescription is corrected.</source>
        <translation>Indique por qué se corrige la receta.</translation>
    </message>
    <message>
        <source>Add at least one medicine.</source>
        <translation>Añada al menos un medicamento.</translation>
    </message>
    <message>
        <source>Each medicine must be a set of fields.</source>
        <translation>Cada medicamento debe ser un conjunto de campos.</translation>
    </message>
    <message>
        <source>The server address must start with http:// or https:// and name a host.</source>
        <translation>La dirección del servidor debe empezar por http:// o https:// e incluir un nombre de servidor.</translation>
    </message>
    <message>
        <source>This device has no server credentials. Enrol it with `clinic enroll`.</source>
        <translation>Este equipo no tiene credenciales del servidor. Regístrelo con `clinic enroll`.</translation>
    </message>
    <message>
        <source>The server sent an unreadable list of conflicts.</source>
        <translation>El servidor envió una lista de conflictos ilegible.</translation>
    </message>
    <message>
        <source>The server no longer accepts this device&apos;s credentials: re-enrol it or sign in again.</source>
        <translation>El servidor ya no acepta las credenciales de este equipo: vuelva a registrarlo o inicie sesión de nuevo.</translation>
    </message>
    <message>
        <source>Staff accounts are managed on the clinic&apos;s server: ask its administrator.</source>
        <translation>Las cuentas del personal se gestionan en el servidor de la clínica: consulte a su administrador.</translation>
    </message>
    <message>
        <source>No refused change with this id: it may have been retried or discarded already.</source>
        <translation>No hay ningún cambio rechazado con ese identificador: puede que ya se haya reintentado o descartado.</translation>
    </message>
    <message>
        <source>The server does not allow this device or user to do that.</source>
        <translation>El servidor no permite esa acción a este equipo o usuario.</translation>
    </message>
    <message>
        <source>The server needs a newer ClinicDesk: update this app.</source>
        <translation>El servidor necesita una versión más reciente de ClinicDesk: actualice la aplicación.</translation>
    </message>
    <message>
        <source>No keyring is available on this machine to keep the device&apos;s server token. Install and unlock the OS keyring (Secret Service or KWallet on Linux), or allow the data-dir file fallback.</source>
        <translation>Este equipo no tiene ningún llavero del sistema donde guardar el token del servidor. Instale y desbloquee el llavero del sistema operativo (Secret Service o KWallet en Linux) o permita el archivo de respaldo en el directorio de datos.</translation>
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
    <message>
        <source>Open conflicts to resolve at the desk: %1</source>
        <translation>Conflictos pendientes de resolver en recepción: %1</translation>
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
